// Checks template.yaml (ctest lint.template):
//  1. against the AWS SAM JSON Schema (tests/fixtures/sam/sam.schema.json: structure, property
//     names, event shapes), loaded with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt...);
//  2. against credbroker's own rules, for the values the schema does not check: every function
//     runs provided.al2023 with Handler bootstrap on the Architecture parameter (x86_64|arm64),
//     the six public routes reach the right packages, the JWT authorizer guards every credential
//     route and not the health check, the gateway's internal resolve route is served only by the
//     resolve package on a private REST API whose resource policy admits VPC endpoints only (never
//     on the public HttpApi), logs have a retention, no IAM action has a wildcard, and the keyring
//     comes from Secrets Manager.
//
//   node validate.mjs TEMPLATE            exit 1 listing every problem
//   node validate.mjs --self-test TEMPLATE  breaks TEMPLATE in known ways and fails unless every
//                                           breakage is reported (ctest lint.template_checker)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Ajv from 'ajv-draft-04';
import yaml from 'js-yaml';
import cfn from 'js-yaml-cloudformation-schema';

const here = path.dirname(fileURLToPath(import.meta.url));
const schemaPath = path.join(here, '..', 'fixtures', 'sam', 'sam.schema.json');

const RUNTIME = 'provided.al2023';
const ARCHITECTURES = ['x86_64', 'arm64'];
// Method + path → the package (build/lambda/<function>/) that must serve it; the same routing
// as infra/lighttpd/credbroker.conf.
const ROUTES = new Map([
  ['ANY /api/v1/healthz', 'health'],
  ['ANY /api/v1/user/credentials', 'list'],
  ['ANY /api/{proxy+}', 'list'],
  ['ANY /api/v1/user/credentials/{server}', 'delete'],
  ['ANY /api/v1/user/credentials/{server}/connect', 'connect'],
  ['ANY /api/v1/user/credentials/{server}/callback', 'callback'],
]);
const UNAUTHENTICATED = new Set(['ANY /api/v1/healthz']);
// Method + path → package for the internal routes: REST API events (Type Api) on the private
// AWS::Serverless::Api only. The handler authenticates its caller itself (no API authorizer).
const INTERNAL_ROUTES = new Map([['ANY /api/v1/internal/credentials/resolve', 'resolve']]);

/** The template as data; a YAML error is thrown as one short line (js-yaml's quotes the file). */
function load(text) {
  try {
    return yaml.safeLoad(text, { schema: cfn.CLOUDFORMATION_SCHEMA });
  } catch (e) {
    const line = e.mark ? ` at line ${e.mark.line + 1}` : '';
    throw new Error(`YAML: ${e.reason ?? e.message}${line}`);
  }
}

const ajv = new Ajv({ strict: false, allErrors: true });
const validateSchema = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, 'utf8')));

function isRef(v, name) {
  return v !== null && typeof v === 'object' && v.Ref === name;
}

/** Every problem with `doc`, as text. */
function problems(doc) {
  const out = [];
  if (doc === null || typeof doc !== 'object') return ['not a YAML mapping'];

  // A JSON copy: the tag objects have their own prototypes; the schema wants plain data.
  const plain = JSON.parse(JSON.stringify(doc));
  if (!validateSchema(plain)) {
    for (const e of validateSchema.errors.slice(0, 20)) {
      out.push(`schema: ${e.instancePath || '/'} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`);
    }
  }

  const resources = plain.Resources ?? {};
  const globals = plain.Globals?.Function ?? {};
  const effective = (props, key) => props?.[key] ?? globals[key];

  const arch = plain.Parameters?.Architecture;
  if (!arch || JSON.stringify([...(arch.AllowedValues ?? [])].sort()) !== JSON.stringify([...ARCHITECTURES].sort())) {
    out.push(`Parameters.Architecture: AllowedValues must be ${ARCHITECTURES.join('|')}`);
  }

  const apis = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Serverless::HttpApi');
  if (apis.length !== 1) out.push(`want exactly one AWS::Serverless::HttpApi, found ${apis.length}`);
  const [apiName, api] = apis[0] ?? ['', {}];
  const auth = api.Properties?.Auth ?? {};
  const authorizers = auth.Authorizers ?? {};
  const jwtAuthorizers = Object.entries(authorizers).filter(
    ([, a]) => a?.JwtConfiguration?.issuer !== undefined && a?.JwtConfiguration?.audience !== undefined,
  );
  if (jwtAuthorizers.length === 0) out.push(`${apiName}: no JWT authorizer with issuer and audience`);
  const jwtNames = new Set(jwtAuthorizers.map(([name]) => name));

  // The private API for the internal routes: PRIVATE endpoint, a resource policy that admits
  // named VPC endpoints (or VPCs) only.
  const restApis = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Serverless::Api');
  if (restApis.length !== 1) out.push(`want exactly one AWS::Serverless::Api (the private internal API), found ${restApis.length}`);
  const [internalName, internal] = restApis[0] ?? ['', {}];
  if (restApis.length === 1) {
    const ip = internal.Properties ?? {};
    const endpoint = typeof ip.EndpointConfiguration === 'string' ? ip.EndpointConfiguration : ip.EndpointConfiguration?.Type;
    if (endpoint !== 'PRIVATE') out.push(`Resources.${internalName}: EndpointConfiguration must be PRIVATE, is ${JSON.stringify(endpoint)}`);
    const policy = ip.Auth?.ResourcePolicy ?? {};
    const sources = ['IntrinsicVpceWhitelist', 'IntrinsicVpcWhitelist', 'SourceVpcWhitelist']
      .flatMap((k) => (Array.isArray(policy[k]) ? policy[k] : []));
    if (sources.length === 0) {
      out.push(`Resources.${internalName}: Auth.ResourcePolicy must admit only VPC endpoints or VPCs (IntrinsicVpceWhitelist, ...)`);
    }
    for (const k of ['AwsAccountWhitelist', 'IpRangeWhitelist', 'CustomStatements']) {
      if (policy[k] !== undefined) out.push(`Resources.${internalName}: Auth.ResourcePolicy.${k} would admit more than the gateway's network`);
    }
  }

  const seen = new Map();
  const functions = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Serverless::Function');
  for (const [name, fn] of functions) {
    const p = fn.Properties ?? {};
    const where = `Resources.${name}`;
    if (effective(p, 'Runtime') !== RUNTIME) out.push(`${where}: Runtime must be ${RUNTIME}, is ${JSON.stringify(effective(p, 'Runtime'))}`);
    if (effective(p, 'Handler') !== 'bootstrap') out.push(`${where}: Handler must be bootstrap`);
    const archs = effective(p, 'Architectures');
    if (!Array.isArray(archs) || archs.length !== 1 || !isRef(archs[0], 'Architecture')) {
      out.push(`${where}: Architectures must be [!Ref Architecture]`);
    }
    const pkg = /^build\/lambda\/([a-z]+)\/?$/.exec(typeof p.CodeUri === 'string' ? p.CodeUri : '');
    if (!pkg) out.push(`${where}: CodeUri must be build/lambda/<function>/ (make lambda)`);
    if (p.Policies !== undefined) out.push(`${where}: no Policies; permissions live in the explicit role`);
    if (!effective(p, 'VpcConfig')) out.push(`${where}: no VpcConfig (ElastiCache is in the VPC)`);
    const env = effective(p, 'Environment')?.Variables ?? {};
    if (env.CREDBROKER_CONFIG !== '/var/task/config.json') out.push(`${where}: CREDBROKER_CONFIG must be /var/task/config.json`);
    if (!JSON.stringify(env.CREDBROKER_KEYS ?? '').includes('{{resolve:secretsmanager:')) {
      out.push(`${where}: CREDBROKER_KEYS must be a Secrets Manager dynamic reference`);
    }
    const logGroup = p.LoggingConfig?.LogGroup?.Ref;
    const lg = resources[logGroup];
    if (!lg || lg.Type !== 'AWS::Logs::LogGroup' || lg.Properties?.RetentionInDays === undefined) {
      out.push(`${where}: LoggingConfig.LogGroup must name an AWS::Logs::LogGroup with RetentionInDays`);
    }
    for (const [eventName, ev] of Object.entries(p.Events ?? {})) {
      if (ev.Type === 'Api') {
        const ep = ev.Properties ?? {};
        const route = `${(ep.Method ?? '').toUpperCase()} ${ep.Path}`;
        const at = `${where}.Events.${eventName} (${route})`;
        if (!isRef(ep.RestApiId, internalName)) out.push(`${at}: RestApiId must be !Ref ${internalName} (the private API)`);
        if (!INTERNAL_ROUTES.has(route)) {
          out.push(`${at}: not a credbroker internal route`);
          continue;
        }
        if (seen.has(route)) out.push(`${at}: route declared twice`);
        seen.set(route, name);
        if (pkg && pkg[1] !== INTERNAL_ROUTES.get(route)) out.push(`${at}: must be served by build/lambda/${INTERNAL_ROUTES.get(route)}/, not ${pkg[1]}`);
        continue;
      }
      if (ev.Type !== 'HttpApi') continue;
      const ep = ev.Properties ?? {};
      const route = `${(ep.Method ?? '').toUpperCase()} ${ep.Path}`;
      const at = `${where}.Events.${eventName} (${route})`;
      if (!isRef(ep.ApiId, apiName)) out.push(`${at}: ApiId must be !Ref ${apiName}`);
      if (ep.PayloadFormatVersion !== '2.0') out.push(`${at}: PayloadFormatVersion must be "2.0"`);
      if (!ROUTES.has(route)) {
        out.push(`${at}: not a credbroker route`);
        continue;
      }
      if (seen.has(route)) out.push(`${at}: route declared twice`);
      seen.set(route, name);
      if (pkg && pkg[1] !== ROUTES.get(route)) out.push(`${at}: must be served by build/lambda/${ROUTES.get(route)}/, not ${pkg[1]}`);
      const authorizer = ep.Auth?.Authorizer ?? auth.DefaultAuthorizer ?? 'NONE';
      if (UNAUTHENTICATED.has(route)) {
        if (authorizer !== 'NONE') out.push(`${at}: the health check must not need the authorizer`);
      } else if (!jwtNames.has(authorizer)) {
        out.push(`${at}: must be guarded by the JWT authorizer, has ${authorizer}`);
      }
    }
  }
  for (const route of [...ROUTES.keys(), ...INTERNAL_ROUTES.keys()]) {
    if (!seen.has(route)) out.push(`route ${route} is missing`);
  }

  // No wildcard in any IAM action, anywhere (roles, inline policies, SAM policies).
  const walk = (node, where) => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => walk(v, `${where}[${i}]`));
    } else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'NotAction') out.push(`${where}.NotAction: not allowed`);
        if (k === 'Action' || k === 'NotAction') {
          for (const action of [v].flat()) {
            if (typeof action !== 'string' || action.includes('*')) {
              out.push(`${where}.${k}: wildcard or non-literal action ${JSON.stringify(action)}`);
            }
          }
        }
        walk(v, `${where}.${k}`);
      }
    }
  };
  walk(resources, 'Resources');
  return out;
}

/** Text edits that must each make the check fail. */
const BREAKAGES = [
  ['an older runtime', (t) => t.replace('Runtime: provided.al2023', 'Runtime: provided.al2')],
  ['an unknown runtime on one function', (t) => t.replace(/(CodeUri: build\/lambda\/list\/\n\s+Runtime:) provided\.al2023/, '$1 nodejs99.x')],
  ['another handler', (t) => t.replace(/(CodeUri: build\/lambda\/delete\/\n\s+Runtime: provided\.al2023\n\s+Handler:) bootstrap/, '$1 main')],
  ['a misspelt property', (t) => t.replace('      MemorySize: 256', '      MemorySise: 256').replace('    MemorySize: 256', '    MemorySise: 256')],
  ['an unknown event type', (t) => t.replace('        Callback:\n          Type: HttpApi', '        Callback:\n          Type: HttpApiV3')],
  ['a route removed', (t) => t.replace('Path: /api/v1/user/credentials/{server}/connect', 'Path: /api/v1/user/credentials/{server}/start')],
  ['a route sent to the wrong package', (t) => t.replace('CodeUri: build/lambda/callback/', 'CodeUri: build/lambda/list/')],
  ['the callback without the authorizer', (t) => t.replace(/(Path: \/api\/v1\/user\/credentials\/\{server\}\/callback\n(\s+)Method: ANY)/, '$1\n$2Auth:\n$2  Authorizer: NONE')],
  ['the health check behind the authorizer', (t) => t.replace(/(Auth:\n\s+Authorizer:) NONE/, '$1 JwtAuthorizer')],
  ['no default authorizer', (t) => t.replace('        DefaultAuthorizer: JwtAuthorizer\n', '')],
  ['a wildcard action', (t) => t.replace('- logs:PutLogEvents', '- "logs:*"')],
  ['Action: "*"', (t) => t.replace('Action: sts:AssumeRole', 'Action: "*"')],
  ['an arm-only architecture list', (t) => t.replace('AllowedValues: [x86_64, arm64]', 'AllowedValues: [arm64]')],
  ['a literal keyring', (t) => t.replace(/^(\s+)CREDBROKER_KEYS: !Sub .*$/m, '$1CREDBROKER_KEYS: k1:AAAA')],
  ['a duplicated resource name', (t) => t.replace('\n  ListFunction:', '\n  HealthFunction:')],
  ['no log retention', (t) => t.replace(/(ListLogGroup:\n(?:.*\n){3})\s+RetentionInDays: .*\n/, '$1')],
  ['the internal API made public', (t) => t.replace('        Type: PRIVATE\n', '        Type: REGIONAL\n')],
  ['the internal API without its resource policy', (t) => t.replace(/\n\s+Auth:\n\s+ResourcePolicy:\n\s+IntrinsicVpceWhitelist: .*/, '')],
  ['the internal API open to an IP range too', (t) => t.replace(/(\n(\s+)IntrinsicVpceWhitelist: .*)/, '$1\n$2IpRangeWhitelist: ["0.0.0.0/0"]')],
  ['the resolve route on the public HTTP API', (t) => t.replace(/Type: Api\n(\s+)Properties:\n\s+RestApiId: !Ref InternalApi/, 'Type: HttpApi\n$1Properties:\n$1  ApiId: !Ref HttpApi\n$1  PayloadFormatVersion: "2.0"')],
  ['the resolve route served by another package', (t) => t.replace('CodeUri: build/lambda/resolve/', 'CodeUri: build/lambda/list/')],
  ['the resolve route removed', (t) => t.replace('Path: /api/v1/internal/credentials/resolve', 'Path: /api/v1/internal/credentials/lookup')],
];

function main() {
  const args = process.argv.slice(2);
  const selfTest = args[0] === '--self-test';
  const file = selfTest ? args[1] : args[0];
  if (!file) {
    console.error('usage: node validate.mjs [--self-test] TEMPLATE');
    process.exit(64);
  }
  const text = fs.readFileSync(file, 'utf8');
  if (!selfTest) {
    let found;
    try {
      found = problems(load(text));
    } catch (e) {
      found = [e.message];
    }
    for (const p of found) console.error(`${file}: ${p}`);
    console.log(found.length === 0 ? `${file}: ok (SAM schema and credbroker rules)` : `${file}: ${found.length} problem(s)`);
    process.exit(found.length === 0 ? 0 : 1);
  }
  const baseline = problems(load(text));
  if (baseline.length > 0) {
    console.error(`self-test needs a clean template; ${file} has: ${baseline.join('; ')}`);
    process.exit(1);
  }
  let missed = 0;
  for (const [what, edit] of BREAKAGES) {
    const broken = edit(text);
    if (broken === text) {
      console.error(`self-test: "${what}" changed nothing: the edit no longer matches the template`);
      missed++;
      continue;
    }
    let found;
    try {
      found = problems(load(broken));
    } catch (e) {
      found = [e.message];
    }
    if (found.length === 0) {
      console.error(`self-test: "${what}" was NOT reported`);
      missed++;
    } else {
      console.log(`self-test: "${what}" reported: ${found[0]}`);
    }
  }
  console.log(`${BREAKAGES.length - missed} passed, ${missed} failed`);
  process.exit(missed === 0 ? 0 : 1);
}

main();
