// Runs oidc-provider (a certified OpenID Provider, independent of any MCP SDK) as the
// authorization server of an MCP resource server, on 127.0.0.1 with an OS-chosen port:
//   node tests/peers/oidc_provider.mjs "$DIR/npm" [--access-ttl SECONDS] [--device-ttl SECONDS] [--interactive]
//        [--jwt-bearer LOGFILE [--trust-idp IDP_ISSUER]] [--idp LOGFILE]
// Prints the issuer http://127.0.0.1:PORT (no trailing slash) as the first stdout line; with env
// MCPCHAT_PORT_FILE=path the port is also written there (atomically).
//
// Enabled: RFC 7591 registration (client_secret_basic when a client names no method; it takes
// client_secret_basic and client_secret_post interchangeably, but a confidential client must send
// its secret one of those ways, and a public one none), PKCE S256 (required), RFC 8707
// resource indicators (any resource gets RS256 JWT access tokens with scope mcp:tools, which
// tests/peers/protected_echo.py accepts), refresh tokens (always, rotating), revocation, and
// RFC 8628 device authorization (user side at /device: a form with xsrf + user_code, then a
// confirm form, both needing the session cookies).
// Login and consent: with --interactive, oidc-provider's own HTML pages (devInteractions: a login
// form, then a consent form); otherwise every interaction is approved at once by redirect, as
// account `user`, so a "browser" that follows redirects with cookies
// (curl -s -L -b /dev/null -o /dev/null) completes the flow.
// Seeded client: `mcpchat-pre` / secret `mcpchat-pre-secret` (client_secret_basic, native,
// loopback redirect, authorization_code + refresh_token + device_code).
// With --jwt-bearer: the RFC 7523 JWT bearer grant for workload identity, which oidc-provider has
// no handler for: an assertion is accepted when it is an ES256 JWT signed by this peer's
// "workload issuer" key, with iss `https://workload-issuer.test`, aud = the issuer, unexpired;
// the token is then issued by oidc-provider's own client-credentials handler (JWT access token
// for the requested resource). Client: `mcpchat-workload` / `mcpchat-workload-secret`
// (client_secret_post). Each jwt-bearer token request is logged to LOGFILE as a JSON line
// {"body": {form fields}, "authorization": header or null}. Workload tokens (what Kubernetes
// would project into a pod) come from POST /test/workload-token {"expires_in": S, "aud": A}
// -> {"token": JWT} (default: 600 s, aud = the issuer).
// Enterprise-managed authorization (ID-JAG), which oidc-provider does not implement either:
// * --idp LOGFILE makes this provider the enterprise IdP: the RFC 8693 token exchange of an ID
//   token it issued (subject_token_type id_token) for an ID-JAG (requested_token_type id-jag),
//   signed with its RS256 key, typ oauth-id-jag+jwt, aud = `audience`, `resource` and `scope` as
//   asked, client_id `mcpchat-enterprise`, 300 s. Client: `mcpchat-idp` / `mcpchat-idp-secret`
//   (client_secret_basic). ID tokens come from POST /test/id-token {"expires_in": S} (aud
//   mcpchat-idp, sub alice). Each exchange is logged to LOGFILE like the JWT bearer requests.
// * --trust-idp IDP_ISSUER (with --jwt-bearer) also accepts ID-JAGs from that IdP (checked
//   against its /jwks, aud = this issuer, client_id = the authenticated client) and issues the
//   token for the ID-JAG's resource and scope. Client: `mcpchat-enterprise` / `mcpchat-enterprise-secret`
//   (client_secret_basic).
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { appendFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const npmDir = args[0];
if (!npmDir) {
  console.error('usage: node oidc_provider.mjs PEERS_NPM_DIR [--access-ttl SECONDS] [--interactive]');
  process.exit(2);
}
const ttlAt = args.indexOf('--access-ttl');
const accessTtl = ttlAt >= 0 ? Number(args[ttlAt + 1]) : 3600;
const deviceTtlAt = args.indexOf('--device-ttl');
const deviceTtl = deviceTtlAt >= 0 ? Number(args[deviceTtlAt + 1]) : 600;
const interactive = args.includes('--interactive');
const jwtBearerAt = args.indexOf('--jwt-bearer');
const jwtBearerLog = jwtBearerAt >= 0 ? args[jwtBearerAt + 1] : null;
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const WORKLOAD_ISSUER = 'https://workload-issuer.test';
const trustIdpAt = args.indexOf('--trust-idp');
const trustedIdp = trustIdpAt >= 0 ? args[trustIdpAt + 1] : null;
const idpAt = args.indexOf('--idp');
const idpLog = idpAt >= 0 ? args[idpAt + 1] : null;
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

const require = createRequire(join(npmDir, 'package.json'));
const providerEntry = require.resolve('oidc-provider');
const { default: Provider, errors } = await import(pathToFileURL(providerEntry).href);
const jose = await import(pathToFileURL(require.resolve('jose')).href);
const workloadKey = await jose.generateKeyPair('ES256');

let callback = null;
const server = createServer((req, res) => {
  if (!interactive && req.url.startsWith('/interaction/')) {
    approve(req, res).catch((error) => {
      res.statusCode = 500;
      res.end(String(error));
    });
    return;
  }
  if (idpLog && req.method === 'POST' && req.url === '/test/id-token') {
    idToken(req, res).catch((error) => {
      res.statusCode = 500;
      res.end(String(error));
    });
    return;
  }
  if (jwtBearerLog && req.method === 'POST' && req.url === '/test/workload-token') {
    workloadToken(req, res).catch((error) => {
      res.statusCode = 500;
      res.end(String(error));
    });
    return;
  }
  callback(req, res);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = privateKey;
const verifyingKey = createPublicKey(privateKey);
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'rs256', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  jwks: { keys: [jwk] },
  clients: [
    {
      client_id: 'mcpchat-pre',
      client_secret: 'mcpchat-pre-secret',
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    ...(jwtBearerLog
      ? [{
        client_id: 'mcpchat-workload',
        client_secret: 'mcpchat-workload-secret',
        grant_types: [JWT_BEARER],
        response_types: [],
        redirect_uris: [],
        scope: 'mcp:tools',
        token_endpoint_auth_method: 'client_secret_post',
      }, {
        client_id: 'mcpchat-enterprise',
        client_secret: 'mcpchat-enterprise-secret',
        grant_types: [JWT_BEARER],
        response_types: [],
        redirect_uris: [],
        scope: 'mcp:tools',
        token_endpoint_auth_method: 'client_secret_basic',
      }]
      : []),
    ...(idpLog
      ? [{
        client_id: 'mcpchat-idp',
        client_secret: 'mcpchat-idp-secret',
        grant_types: [TOKEN_EXCHANGE],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      }]
      : []),
  ],
  scopes: ['openid', 'offline_access', 'mcp:tools'],
  features: {
    devInteractions: { enabled: interactive },
    registration: { enabled: true },
    revocation: { enabled: true },
    deviceFlow: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: 'mcp:tools',
        accessTokenFormat: 'jwt',
        accessTokenTTL: accessTtl,
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: { DeviceCode: deviceTtl },
  pkce: { required: () => true },
  interactions: interactive ? undefined : { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (_ctx, accountId) => ({ accountId, claims: async () => ({ sub: accountId }) }),
  extraTokenClaims: async (ctx) => ({ client_id: ctx?.oidc?.client?.clientId }),
});
provider.proxy = false;
if (jwtBearerLog) await registerJwtBearer();
if (idpLog) registerTokenExchange();
callback = provider.callback();

// RFC 7523 §2.1 on top of oidc-provider: check the assertion, then let oidc-provider's own
// client-credentials handler issue the token (resource indicator, JWT format, scope checks).
async function registerJwtBearer() {
  const lib = dirname(providerEntry);
  const helpers = await import(pathToFileURL(join(lib, 'helpers/grants.js')).href);
  const { handler } = await import(pathToFileURL(join(lib, 'actions/grants/client_credentials.js')).href);
  const bound = Object.fromEntries(
    Object.entries(helpers).map(([name, helper]) => [name, helper.bind(undefined, provider)]),
  );
  provider.registerGrantType(JWT_BEARER, async (ctx) => {
    appendFileSync(jwtBearerLog, JSON.stringify({
      body: ctx.oidc.body,
      authorization: ctx.headers.authorization ?? null,
    }) + '\n');
    const { assertion } = ctx.oidc.params;
    if (!assertion) throw new errors.InvalidRequest('missing assertion');
    let header;
    try {
      header = jose.decodeProtectedHeader(assertion);
    } catch {
      throw new errors.InvalidGrant('the assertion is not a JWT');
    }
    try {
      if (trustedIdp && header.typ === 'oauth-id-jag+jwt') {
        const { payload } = await jose.jwtVerify(assertion, idpKeys, {
          issuer: trustedIdp,
          audience: issuer,
          typ: 'oauth-id-jag+jwt',
        });
        if (payload.client_id !== ctx.oidc.client.clientId) throw new Error('ID-JAG for another client');
        // The grant carries the authority: the token is for the ID-JAG's resource and scope.
        if (payload.resource) ctx.oidc.params.resource = payload.resource;
        if (payload.scope) ctx.oidc.params.scope = payload.scope;
      } else {
        await jose.jwtVerify(assertion, workloadKey.publicKey, {
          issuer: WORKLOAD_ISSUER,
          audience: issuer,
          algorithms: ['ES256'],
        });
      }
    } catch (error) {
      throw new errors.InvalidGrant(`the assertion is not valid: ${error.message}`);
    }
    await handler(provider, bound, ctx);
  }, ['assertion', 'scope', 'resource'], ['resource']);
}

// The trusted IdP's signing keys (fetched when first needed).
const idpKeys = trustedIdp ? jose.createRemoteJWKSet(new URL(`${trustedIdp}/jwks`)) : null;

// RFC 8693 token exchange of one of our ID tokens for an ID-JAG (the IdP side of
// enterprise-managed authorization).
function registerTokenExchange() {
  provider.registerGrantType(TOKEN_EXCHANGE, async (ctx) => {
    appendFileSync(idpLog, JSON.stringify({
      body: ctx.oidc.body,
      authorization: ctx.headers.authorization ?? null,
    }) + '\n');
    const p = ctx.oidc.params;
    if (p.subject_token_type !== 'urn:ietf:params:oauth:token-type:id_token'
      || p.requested_token_type !== 'urn:ietf:params:oauth:token-type:id-jag'
      || !p.subject_token || !p.audience || !p.resource) {
      throw new errors.InvalidRequest('expected an ID token exchanged for an ID-JAG, with audience and resource');
    }
    let subject;
    try {
      ({ payload: subject } = await jose.jwtVerify(p.subject_token, verifyingKey, {
        issuer,
        audience: ctx.oidc.client.clientId,
      }));
    } catch (error) {
      throw new errors.InvalidGrant(`the ID token is not valid: ${error.message}`);
    }
    const now = Math.floor(Date.now() / 1000);
    const jag = await new jose.SignJWT({
      client_id: 'mcpchat-enterprise',
      resource: p.resource,
      ...(p.scope ? { scope: p.scope } : {}),
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'rs256', typ: 'oauth-id-jag+jwt' })
      .setIssuer(issuer)
      .setSubject(subject.sub)
      .setAudience(p.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .setJti(randomUUID())
      .sign(signingKey);
    ctx.body = {
      access_token: jag,
      issued_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
      token_type: 'N_A',
      expires_in: 300,
      ...(p.scope ? { scope: p.scope } : {}),
    };
  }, ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope']);
}

// An ID token of ours for user `alice` (what single sign-on to the IdP would give mcpchat-idp).
async function idToken(req, res) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  const asked = raw ? JSON.parse(raw) : {};
  const now = Math.floor(Date.now() / 1000);
  const token = await new jose.SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: 'rs256', typ: 'JWT' })
    .setIssuer(issuer)
    .setSubject('alice')
    .setAudience('mcpchat-idp')
    .setIssuedAt(now)
    .setExpirationTime(now + (asked.expires_in ?? 600))
    .sign(signingKey);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ token }));
}

// A workload identity token signed by the workload issuer (as a Kubernetes API server would).
async function workloadToken(req, res) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  const asked = raw ? JSON.parse(raw) : {};
  const now = Math.floor(Date.now() / 1000);
  const token = await new jose.SignJWT({})
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .setIssuer(WORKLOAD_ISSUER)
    .setSubject(asked.sub ?? 'system:serviceaccount:ci:mcpchat')
    .setAudience(asked.aud ?? issuer)
    .setIssuedAt(now)
    .setExpirationTime(now + (asked.expires_in ?? 600))
    .sign(workloadKey.privateKey);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ token }));
}

// Approves one interaction: login as `user`, then consent to everything asked.
async function approve(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;
  let result;
  if (prompt.name === 'login') {
    result = { login: { accountId: 'user' } };
  } else {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

if (process.env.MCPCHAT_PORT_FILE) {
  const file = process.env.MCPCHAT_PORT_FILE;
  writeFileSync(file + '.tmp', String(port));
  renameSync(file + '.tmp', file);
}
console.log(issuer);
// oidc-provider prints notices with console.log; the reader of our stdout may be gone by then.
console.log = console.info = (...words) => console.error(...words);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
