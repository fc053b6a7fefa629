// docs/openapi.yaml against the OpenAPI 3.1 schema, and every exchange the suites recorded
// (tests/support/stack.cc, Front::request) against docs/openapi.yaml:
//
//   node check.mjs document OPENAPI            the document: OpenAPI 3.1 schema, references,
//                                              credbroker's x- extensions (ctest openapi.document)
//   node check.mjs exchanges OPENAPI DIR       every *.jsonl line under DIR (ctest
//                                              openapi.exchanges, after the suites); exit 1 listing
//                                              each answer the document does not describe
//   node check.mjs --self-test OPENAPI         known-good exchanges must pass and known-bad ones
//                                              must each be reported (ctest openapi.checker)
//
// An exchange is described when its path matches a path template (a `{param}` is one segment),
// its method has an operation there (or the path's x-credbroker-other-methods response applies),
// its status is one of the operation's responses, every header that response declares is there
// (when required) with a value its schema admits, and its body is what `content` says: JSON of the
// media type with a value the schema admits, or nothing when no content is declared. Under the
// front authorizer's prefix (x-credbroker-authorizer) a refusal status must carry the refusal body;
// any other status there is the proxied upstream's. Another /api/ path must be the JSON 404.
import fs from 'node:fs';
import path from 'node:path';

import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';

const SCHEMAS_ID = 'urn:credbroker:openapi:schemas';

function loadDocument(file) {
  const parsed = YAML.parseDocument(fs.readFileSync(file, 'utf8'), { prettyErrors: false });
  if (parsed.errors.length > 0) throw new Error(`${file}: ${parsed.errors[0].message}`);
  return parsed.toJS({ maxAliasCount: -1 });
}

/** An internal "#/a/b" reference's target. */
function pointer(doc, ref) {
  if (!ref.startsWith('#/')) throw new Error(`only internal references: ${ref}`);
  let node = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (node === null || typeof node !== 'object' || !(key in node)) {
      throw new Error(`unresolved reference ${ref}`);
    }
    node = node[key];
  }
  return node;
}

function deref(doc, node) {
  for (let i = 0; node && typeof node === 'object' && typeof node.$ref === 'string'; i++) {
    if (i > 16) throw new Error(`reference loop at ${node.$ref}`);
    node = pointer(doc, node.$ref);
  }
  return node;
}

/** A copy of a schema whose component references point into the Ajv schema of the components. */
function ajvSchema(schema) {
  if (Array.isArray(schema)) return schema.map(ajvSchema);
  if (!schema || typeof schema !== 'object') return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')
      ? `${SCHEMAS_ID}#/$defs/${v.slice('#/components/schemas/'.length)}`
      : ajvSchema(v);
  }
  return out;
}

export class Contract {
  constructor(doc) {
    this.doc = doc;
    this.ajv = new Ajv2020({ strict: true, allErrors: true });
    this.ajv.addSchema({ $id: SCHEMAS_ID, $defs: ajvSchema(doc.components?.schemas ?? {}) });
    this.compiled = new Map();
    this.templates = Object.keys(doc.paths ?? {}).map((t) => ({ template: t, parts: t.split('/') }))
      // Literal segments before parameters: /a/b wins over /a/{x}.
      .sort((a, b) => b.parts.filter((p) => !p.startsWith('{')).length
        - a.parts.filter((p) => !p.startsWith('{')).length);
  }

  validator(schema) {
    const key = JSON.stringify(schema);
    if (!this.compiled.has(key)) this.compiled.set(key, this.ajv.compile(ajvSchema(schema)));
    return this.compiled.get(key);
  }

  schemaErrors(schema, value) {
    const validate = this.validator(schema);
    if (validate(value)) return [];
    return validate.errors.map((e) => `${e.instancePath || '(root)'} ${e.message}`);
  }

  matchPath(p) {
    const parts = p.split('/');
    for (const { template, parts: tparts } of this.templates) {
      if (tparts.length !== parts.length) continue;
      if (tparts.every((t, i) => (t.startsWith('{') && t.endsWith('}')) || t === parts[i])) {
        return template;
      }
    }
    return null;
  }

  /** The problems of one answer against a Response Object (empty: described). */
  checkResponse(response, exchange, { headers: checkHeaders = true } = {}) {
    const problems = [];
    const r = deref(this.doc, response);
    const values = (name) => exchange.headers.filter(([k]) => k.toLowerCase() === name.toLowerCase())
      .map(([, v]) => v);
    if (checkHeaders) {
      for (const [name, h] of Object.entries(r.headers ?? {})) {
        if (name.toLowerCase() === 'content-type') continue;
        const header = deref(this.doc, h);
        const got = values(name);
        if (got.length === 0) {
          if (header.required) problems.push(`header ${name} missing`);
          continue;
        }
        if (got.length > 1) problems.push(`header ${name} sent ${got.length} times: ${JSON.stringify(got)}`);
        for (const v of got) {
          for (const e of this.schemaErrors(header.schema ?? {}, v)) {
            problems.push(`header ${name}: ${JSON.stringify(v)} ${e}`);
          }
        }
      }
    }
    const contentType = (values('content-type')[0] ?? '').split(';')[0].trim().toLowerCase();
    const content = r.content ?? {};
    if (Object.keys(content).length === 0 || exchange.method === 'HEAD') {
      if (exchange.body !== '') problems.push(`a body where none is described: ${JSON.stringify(exchange.body.slice(0, 200))}`);
      return problems;
    }
    const media = content[contentType];
    if (!media) {
      problems.push(`Content-Type ${JSON.stringify(contentType)} is not one of ${Object.keys(content).join(', ')}; body ${JSON.stringify(exchange.body.slice(0, 200))}`);
      return problems;
    }
    if (!/^application\/([a-z.+-]+\+)?json$/.test(contentType)) {
      for (const e of this.schemaErrors(media.schema ?? {}, exchange.body)) problems.push(`body ${e}`);
      return problems;
    }
    let body;
    try {
      body = JSON.parse(exchange.body);
    } catch {
      problems.push(`body is not JSON: ${JSON.stringify(exchange.body.slice(0, 200))}`);
      return problems;
    }
    for (const e of this.schemaErrors(media.schema ?? {}, body)) {
      problems.push(`body ${e}: ${JSON.stringify(exchange.body.slice(0, 300))}`);
    }
    return problems;
  }

  /** The route's verdict, unless one of the front's own answers (x-credbroker-front-answers)
   *  describes the exchange. */
  check(exchange) {
    const verdict = this.checkRoute(exchange);
    if (verdict.problems.length === 0) return verdict;
    for (const answer of this.doc['x-credbroker-front-answers'] ?? []) {
      if (!answer.fronts.includes(exchange.front) || answer.status !== exchange.status) continue;
      if (!new RegExp(answer.paths).test(exchange.path)) continue;
      if (this.checkResponse(answer.response, exchange).length === 0) {
        return { kind: `${exchange.front}-answer`, problems: [] };
      }
    }
    return verdict;
  }

  /** { problems: [...], kind: 'route' | 'authorizer-refusal' | 'upstream' | 'other-api-path' }. */
  checkRoute(exchange) {
    const template = this.matchPath(exchange.path);
    const status = String(exchange.status);
    if (template) {
      const item = this.doc.paths[template];
      const operation = item[exchange.method.toLowerCase()];
      if (!operation) {
        const other = item['x-credbroker-other-methods'];
        if (!other || status !== '405') {
          return { kind: 'route', problems: [`${exchange.method} ${template}: no such operation, and ${status} is not its 405`] };
        }
        return { kind: 'route', problems: this.checkResponse(other, exchange) };
      }
      const response = operation.responses?.[status] ?? operation.responses?.default;
      if (!response) {
        return { kind: 'route', problems: [`${exchange.method} ${template}: status ${status} is not described`] };
      }
      return { kind: 'route', problems: this.checkResponse(response, exchange) };
    }
    const authorizer = this.doc['x-credbroker-authorizer'];
    if (authorizer && exchange.path.startsWith(authorizer.pathPrefix)) {
      const refusal = authorizer.refusals?.[status];
      if (!refusal) return { kind: 'upstream', problems: [] };
      return { kind: 'authorizer-refusal', problems: this.checkResponse(refusal, exchange) };
    }
    const other = this.doc['x-credbroker-other-api-paths'];
    if (other && exchange.path.startsWith(other.prefix)) {
      if (status !== '404') return { kind: 'other-api-path', problems: [`undescribed path ${exchange.path} answered ${status}, not the JSON 404`] };
      return { kind: 'other-api-path', problems: this.checkResponse(other.response, exchange) };
    }
    // The web page (ui/) and everything else outside /api/ are the front's own files: ui_test
    // checks their types and policy; the contract only says they are not API paths, and that a
    // path outside both is the front's refusal (404; Apache's configs answer 403).
    const page = this.doc['x-credbroker-web-page'];
    if (page && exchange.path.startsWith(page.prefix)) return { kind: 'web-page', problems: [] };
    if (page && !exchange.path.startsWith('/api/')) {
      if (status === '404' || status === '403') return { kind: 'front-refusal', problems: [] };
      return { kind: 'route', problems: [`path ${exchange.path} outside /api/ answered ${status}, not the front's refusal`] };
    }
    return { kind: 'route', problems: [`path ${exchange.path} is not described`] };
  }
}

async function checkDocument(file) {
  const problems = [];
  const result = await new Validator().validate(file);
  if (!result.valid) problems.push(`not OpenAPI 3.1: ${JSON.stringify(result.errors, null, 1)}`);
  const doc = loadDocument(file);
  if (doc.openapi !== '3.1.0') problems.push(`openapi is ${doc.openapi}, not 3.1.0`);
  // Every reference resolves, and every schema compiles under Ajv's strict mode.
  const visit = (node, where) => {
    if (Array.isArray(node)) { node.forEach((n, i) => visit(n, `${where}/${i}`)); return; }
    if (!node || typeof node !== 'object') return;
    if (typeof node.$ref === 'string') {
      try { pointer(doc, node.$ref); } catch (e) { problems.push(`${where}: ${e.message}`); }
    }
    for (const [k, v] of Object.entries(node)) visit(v, `${where}/${k}`);
  };
  visit(doc, '#');
  let contract;
  try {
    contract = new Contract(doc);
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
      try { contract.validator(schema); } catch (e) { problems.push(`schema ${name}: ${e.message}`); }
    }
  } catch (e) {
    problems.push(`schemas: ${e.message}`);
  }
  // Each route answers a wrong method with 405 + Allow, and every operation describes its 4xx.
  for (const [template, item] of Object.entries(doc.paths ?? {})) {
    if (!item['x-credbroker-other-methods']) problems.push(`${template}: no x-credbroker-other-methods (the 405)`);
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'].includes(method)) continue;
      if (!op.responses?.['400']) problems.push(`${method.toUpperCase()} ${template}: no 400`);
      if (op.responses?.default) problems.push(`${method.toUpperCase()} ${template}: a default response describes nothing`);
    }
  }
  const authorizer = doc['x-credbroker-authorizer'];
  if (!authorizer?.pathPrefix?.startsWith('/') || !authorizer.refusals) {
    problems.push('x-credbroker-authorizer: pathPrefix and refusals are required');
  }
  return problems;
}

function readExchanges(dir) {
  const out = [];
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort()) {
    const lines = fs.readFileSync(path.join(dir, name), 'utf8').split('\n').filter((l) => l !== '');
    lines.forEach((l, i) => out.push({ source: `${name}:${i + 1}`, ...JSON.parse(l) }));
  }
  return out;
}

function checkExchanges(contract, exchanges) {
  const failures = [];
  const seen = new Map();
  for (const x of exchanges) {
    const { kind, problems } = contract.check(x);
    const key = `${kind} ${kind === 'route' ? (contract.matchPath(x.path) ?? x.path) : ''} ${x.method} ${x.status}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    if (problems.length > 0) failures.push({ x, problems });
  }
  return { failures, seen };
}

// Self-test: answers as the handlers give them, and breakages of them that must each be reported.
const STD = [['cache-control', 'no-store'], ['x-content-type-options', 'nosniff'],
  ['content-security-policy', "default-src 'none'"]];
const JSONH = [['content-type', 'application/json'], ...STD];
const err = (status, error, message) => JSON.stringify({ error, message, status_code: status });
const GOOD = [
  { method: 'GET', path: '/api/v1/user/credentials', status: 200, headers: JSONH,
    body: '{"credentials":[{"server":"github","mode":"oauth_connect","status":"not_connected","connect_path":"/api/v1/user/credentials/github/connect"}]}' },
  { method: 'GET', path: '/api/v1/user/credentials', status: 401,
    headers: [...JSONH, ['www-authenticate', 'Bearer']], body: err(401, 'Unauthorized', 'Authentication required') },
  { method: 'PUT', path: '/api/v1/user/credentials/github/connect', status: 405,
    headers: [...JSONH, ['allow', 'GET']], body: err(405, 'Method Not Allowed', 'Method not allowed') },
  { method: 'GET', path: '/api/v1/user/credentials/github/connect', status: 302,
    headers: [...STD, ['location', 'https://as.test/authorize?response_type=code&client_id=x']], body: '' },
  { method: 'DELETE', path: '/api/v1/user/credentials/Docs%20Wiki', status: 200, headers: JSONH,
    body: '{"message":"Disconnected credential for \\"Docs Wiki\\"","revoked":[]}' },
  { method: 'HEAD', path: '/api/v1/healthz', status: 200, headers: JSONH, body: '' },
  { method: 'GET', path: '/api/v1/nope', status: 404, headers: JSONH, body: err(404, 'Not Found', 'Not found') },
  { method: 'GET', path: '/upstream/github/x', status: 200, headers: [['content-type', 'text/plain']], body: 'upstream saw GET /gh/x' },
  { method: 'GET', path: '/api/v1/user/credentials', status: 400, front: 'lighttpd',
    headers: [['content-type', 'text/html']], body: '<html>400</html>' },
  { method: 'GET', path: '/upstream/github/x', status: 403, headers: JSONH,
    body: '{"error":"connect_required","message":"Connect \\"github\\" first","status_code":403,"connect_path":"/api/v1/user/credentials/github/connect"}' },
];
const BAD = [
  ['an undescribed status', 0, (x) => ({ ...x, status: 418 })],
  ['Cache-Control missing', 0, (x) => ({ ...x, headers: x.headers.filter(([k]) => k !== 'cache-control') })],
  ['Cache-Control wrong', 0, (x) => ({ ...x, headers: x.headers.map(([k, v]) => [k, k === 'cache-control' ? 'max-age=60' : v]) })],
  ['Cache-Control twice', 0, (x) => ({ ...x, headers: [...x.headers, ['cache-control', 'no-store']] })],
  ['a member the schema lacks', 0, (x) => ({ ...x, body: '{"credentials":[],"access_token":"secret"}' })],
  ['a token in a list entry', 0, (x) => ({ ...x, body: '{"credentials":[{"server":"g","mode":"oauth_connect","status":"connected","access_token":"t"}]}' })],
  ['an unknown status value', 0, (x) => ({ ...x, body: '{"credentials":[{"server":"g","mode":"oauth_connect","status":"great"}]}' })],
  ['HTML instead of JSON', 0, (x) => ({ ...x, headers: x.headers.map(([k, v]) => [k, k === 'content-type' ? 'text/html' : v]) })],
  ['a body that is not JSON', 0, (x) => ({ ...x, body: '{"credentials":' })],
  ['401 without WWW-Authenticate', 1, (x) => ({ ...x, headers: x.headers.filter(([k]) => k !== 'www-authenticate') })],
  ['an error body without status_code', 1, (x) => ({ ...x, body: '{"error":"Unauthorized","message":"m"}' })],
  ['405 without Allow', 2, (x) => ({ ...x, headers: x.headers.filter(([k]) => k !== 'allow') })],
  ['another method answered 200', 2, (x) => ({ ...x, status: 200 })],
  ['302 without Location', 3, (x) => ({ ...x, headers: x.headers.filter(([k]) => k !== 'location') })],
  ['302 with a body', 3, (x) => ({ ...x, body: '<html>moved</html>' })],
  ['revoked holds something else', 4, (x) => ({ ...x, body: '{"message":"Disconnected credential for \\"x\\"","revoked":["id_token"]}' })],
  ['a body on HEAD', 5, (x) => ({ ...x, body: '{"status":"ok"}' })],
  ['another /api/ path answered 200', 6, (x) => ({ ...x, status: 200 })],
  ['another /api/ path answered HTML', 6, (x) => ({ ...x, headers: [['content-type', 'text/html'], ...STD], body: '<h1>404</h1>' })],
  ['a path outside the API and the web page answered as if it were one', 6, (x) => ({ ...x, path: '/secret', status: 200 })],
  ['another front answering like lighttpd', 8, (x) => ({ ...x, front: 'nginx' })],
  ['lighttpd answering HTML at another status', 8, (x) => ({ ...x, status: 401 })],
  ['an authorizer refusal without connect_path', 9, (x) => ({ ...x, body: '{"error":"connect_required","message":"m","status_code":403}' })],
  ['an authorizer refusal as HTML', 9, (x) => ({ ...x, headers: [['content-type', 'text/html']], body: '<h1>403</h1>' })],
];

function selfTest(contract) {
  let failed = 0;
  GOOD.forEach((x, i) => {
    const { problems } = contract.check(x);
    if (problems.length > 0) { failed++; console.log(`FAIL good exchange ${i} reported: ${problems.join('; ')}`); }
  });
  for (const [what, base, breakIt] of BAD) {
    const { problems } = contract.check(breakIt(structuredClone(GOOD[base])));
    if (problems.length === 0) { failed++; console.log(`FAIL not reported: ${what}`); } else console.log(`ok   reported: ${what} (${problems[0]})`);
  }
  return failed;
}

async function main() {
  const [mode, file, dir] = process.argv.slice(2);
  if (mode === 'document' && file) {
    const problems = await checkDocument(file);
    for (const p of problems) console.log(`FAIL ${p}`);
    if (problems.length === 0) console.log(`ok   ${file}: OpenAPI 3.1, references resolve, schemas compile`);
    return problems.length === 0 ? 0 : 1;
  }
  if (mode === '--self-test' && file) {
    const failed = selfTest(new Contract(loadDocument(file)));
    console.log(failed === 0 ? `ok   ${GOOD.length} good exchanges pass, ${BAD.length} breakages reported` : `${failed} self-test failures`);
    return failed === 0 ? 0 : 1;
  }
  if (mode === 'exchanges' && file && dir) {
    const exchanges = readExchanges(dir);
    if (exchanges.length === 0) {
      console.log(`FAIL no exchanges recorded in ${dir}: nothing was checked`);
      return 1;
    }
    const { failures, seen } = checkExchanges(new Contract(loadDocument(file)), exchanges);
    for (const [key, n] of [...seen].sort()) console.log(`${String(n).padStart(6)}  ${key}`);
    const shown = failures.slice(0, 50);
    for (const { x, problems } of shown) {
      console.log(`FAIL ${x.source} (${x.front}) ${x.method} ${x.path} → ${x.status}\n     ${problems.join('\n     ')}`);
    }
    if (failures.length > shown.length) console.log(`... and ${failures.length - shown.length} more`);
    console.log(`${exchanges.length} exchanges, ${failures.length} not described by ${file}`);
    return failures.length === 0 ? 0 : 1;
  }
  console.error('usage: check.mjs document OPENAPI | exchanges OPENAPI DIR | --self-test OPENAPI');
  return 64;
}

process.exitCode = await main();
