// Runs oidc-provider (a certified OpenID Provider, independent of any MCP SDK) as the
// authorization server of an MCP resource server, on 127.0.0.1 with an OS-chosen port:
//   node tests/peers/oidc_provider.mjs "$DIR/npm" [--access-ttl SECONDS] [--device-ttl SECONDS] [--interactive] [--dpop-nonce]
// Prints the issuer http://127.0.0.1:PORT (no trailing slash) as the first stdout line; with env
// MCPCHAT_PORT_FILE=path the port is also written there (atomically).
//
// Enabled: RFC 7591 registration (client_secret_basic when a client names no method; it takes
// client_secret_basic and client_secret_post interchangeably, but a confidential client must send
// its secret one of those ways, and a public one none), PKCE S256 (required), RFC 8707
// resource indicators (any resource gets RS256 JWT access tokens with scope mcp:tools, which
// tests/peers/protected_echo.py accepts), refresh tokens (always, rotating), revocation, and
// RFC 8628 device authorization (user side at /device: a form with xsrf + user_code, then a
// confirm form, both needing the session cookies), and DPoP (RFC 9449, oidc-provider's default:
// a token request with a proof gets a DPoP-bound token, cnf.jkt in the JWT); with --dpop-nonce
// every proof must carry its nonce (use_dpop_nonce otherwise).
// Login and consent: with --interactive, oidc-provider's own HTML pages (devInteractions: a login
// form, then a consent form); otherwise every interaction is approved at once by redirect, as
// account `user`, so a "browser" that follows redirects with cookies
// (curl -s -L -b /dev/null -o /dev/null) completes the flow.
// Seeded clients: `mcpchat-pre` / secret `mcpchat-pre-secret` (client_secret_basic, native,
// loopback redirect, authorization_code + refresh_token + device_code), and `mcpchat-machine` /
// `mcpchat-machine-secret` for the client credentials grant.
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
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
const dpopNonce = args.includes('--dpop-nonce');

const require = createRequire(join(npmDir, 'package.json'));
const { default: Provider } = await import(pathToFileURL(require.resolve('oidc-provider')).href);

let callback = null;
const server = createServer((req, res) => {
  if (!interactive && req.url.startsWith('/interaction/')) {
    approve(req, res).catch((error) => {
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
    {
      client_id: 'mcpchat-machine',
      client_secret: 'mcpchat-machine-secret',
      redirect_uris: [],
      response_types: [],
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  scopes: ['openid', 'offline_access', 'mcp:tools'],
  features: {
    devInteractions: { enabled: interactive },
    registration: { enabled: true },
    revocation: { enabled: true },
    deviceFlow: { enabled: true },
    clientCredentials: { enabled: true },
    dPoP: dpopNonce
      ? { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true }
      : { enabled: true },
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
callback = provider.callback();

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
