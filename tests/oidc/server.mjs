// A real OAuth 2.0 authorization server for credbroker's integration tests: oidc-provider with the
// authorization-code grant, PKCE (S256) required for every client, refresh tokens, RFC 8707
// resource indicators and RFC 9207 "iss" in every authorization response. Login and consent are
// oidc-provider's built-in development pages (any login name, any password; the account id is the
// login name), driven over HTTP by tests/support/fakes/browser.cc.
//
// Usage: node server.mjs --config FILE.json [--port N]
//   (or OIDC_CONFIG / OIDC_PORT in the environment). FILE.json:
//   {
//     "port": 8123,                                 // optional when --port/OIDC_PORT is given
//     "issuer": "http://127.0.0.1:8123",            // optional; that is the default
//     "clients": [{ "client_id": "c", "client_secret": "s",
//                   "token_endpoint_auth_method": "client_secret_post" | "client_secret_basic" | "none",
//                   "redirect_uris": ["http://127.0.0.1:9000/api/v1/user/credentials/c/callback"],
//                   "grant_types": ["authorization_code", "refresh_token"] }],  // optional
//     "resources": { "https://api.example.test": { "scope": "repo read:user",
//                    "accessTokenFormat": "opaque" | "jwt", "accessTokenTTL": 3600 } },
//     "default_resource": "https://api.example.test",  // optional: used when a request names none
//     "refresh_tokens": "always" | "offline_access",   // default "always"
//     "access_token_ttl": 3600                         // default 3600 (when the resource names none)
//   }
//
// Logs one line per request (method, path without query, status) and each grant/authorization
// error code: never a query string, body, token, code or secret. Prints
// "oidc-provider ready on <issuer>" on stdout once listening; exits 0 on SIGTERM or SIGINT.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

function fail(message) {
  console.error(`oidc-provider: ${message}`);
  process.exit(2);
}

function loadConfig() {
  const { values } = parseArgs({
    options: { config: { type: 'string' }, port: { type: 'string' } },
  });
  const path = values.config ?? process.env.OIDC_CONFIG;
  if (!path) fail('usage: node server.mjs --config FILE.json [--port N]');
  let config;
  try {
    config = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    fail(`cannot read config ${path}: ${e.message}`);
  }
  const port = Number(values.port ?? process.env.OIDC_PORT ?? config.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) fail('port: expected 1..65535');
  config.port = port;
  config.issuer ??= `http://127.0.0.1:${port}`;
  if (!Array.isArray(config.clients) || config.clients.length === 0) {
    fail('clients: expected a non-empty array');
  }
  config.resources ??= {};
  config.refresh_tokens ??= 'always';
  if (!['always', 'offline_access'].includes(config.refresh_tokens)) {
    fail('refresh_tokens: expected "always" or "offline_access"');
  }
  if (config.default_resource !== undefined && !config.resources[config.default_resource]) {
    fail('default_resource: must be a key of "resources"');
  }
  return config;
}

function toClientMetadata(c, i) {
  if (!c.client_id) fail(`clients[${i}].client_id: required`);
  const method = c.token_endpoint_auth_method ?? 'client_secret_post';
  const metadata = {
    client_id: c.client_id,
    // "web" clients may register http:// redirect URIs for the code flow (only the implicit flow
    // demands https there), and matching stays exact, port included.
    application_type: 'web',
    token_endpoint_auth_method: method,
    redirect_uris: c.redirect_uris ?? [],
    grant_types: c.grant_types ?? ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  };
  if (method !== 'none') {
    if (!c.client_secret) fail(`clients[${i}].client_secret: required for ${method}`);
    metadata.client_secret = c.client_secret;
  }
  return metadata;
}

const config = loadConfig();

const provider = new Provider(config.issuer, {
  clients: config.clients.map(toClientMetadata),
  responseTypes: ['code'],
  // Cookie signing keys: fresh per run, nothing persists.
  cookies: { keys: [crypto.randomUUID(), crypto.randomUUID()] },
  // The account id is whatever name was typed on the login page.
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  scopes: ['openid', 'offline_access'],
  pkce: { required: () => true },
  clientBasedCORS: () => false,
  // Real upstreams (GitHub, Google with access_type=offline) hand out refresh tokens without the
  // OIDC offline_access scope; "offline_access" restores oidc-provider's stricter default.
  issueRefreshToken: (_ctx, client, code) =>
    client.grantTypeAllowed('refresh_token') &&
    (config.refresh_tokens === 'always' || code.scopes.has('offline_access')),
  // Sessions live in this process's memory only; tokens must outlive the browser session anyway.
  expiresWithSession: () => false,
  features: {
    devInteractions: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (_ctx, _client, oneOf) => oneOf ?? config.default_resource,
      // The token request need not repeat "resource": the one granted at authorization applies
      // (credbroker sends it only on the authorization request).
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        const rs = config.resources[indicator];
        if (!rs) throw new errors.InvalidTarget();
        return {
          scope: rs.scope ?? '',
          audience: indicator,
          accessTokenFormat: rs.accessTokenFormat ?? 'opaque',
          accessTokenTTL: rs.accessTokenTTL ?? config.access_token_ttl ?? 3600,
        };
      },
    },
  },
  ttl: {
    AccessToken: (_ctx, token) =>
      token.resourceServer?.accessTokenTTL ?? config.access_token_ttl ?? 3600,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 14 * 24 * 3600,
    Interaction: 600,
    Session: 3600,
    Grant: 14 * 24 * 3600,
  },
});

provider.use(async (ctx, next) => {
  await next();
  console.log(`${ctx.method} ${ctx.path} ${ctx.status}`);
});
for (const event of ['grant.error', 'authorization.error', 'introspection.error', 'revocation.error']) {
  provider.on(event, (_ctx, err) => console.log(`${event}: ${err.error ?? err.name}: ${err.error_description ?? ''}`));
}
provider.on('server_error', (_ctx, err) => console.error(`server_error: ${err.stack}`));

const server = provider.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider ready on ${config.issuer}`);
});
server.on('error', (e) => fail(`listen on 127.0.0.1:${config.port}: ${e.message}`));

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
