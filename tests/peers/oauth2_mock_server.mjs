// Runs oauth2-mock-server (an OIDC authorization server with no dynamic registration) on
// 127.0.0.1 with an OS-chosen port:
//   node tests/peers/oauth2_mock_server.mjs "$DIR/npm" [--expires-in SECONDS]
// Prints one line to stdout once listening: the issuer URL, http://127.0.0.1:PORT (no trailing
// slash; the CLI would say http://localhost:PORT). With env MCPCHAT_PORT_FILE=path the port is also
// written there (atomically). Discovery is only at /.well-known/openid-configuration (no RFC 8414
// document); any client_id is accepted, with or without a secret.
// Two hooks make tokens more like a real AS's: the access token gets a `client_id` claim (from HTTP
// Basic or the body) and, when the token request has an RFC 8707 `resource`, an `aud` claim.
import { createRequire } from 'node:module';
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const npmDir = args[0];
if (!npmDir) {
  console.error('usage: node oauth2_mock_server.mjs PEERS_NPM_DIR [--expires-in SECONDS]');
  process.exit(2);
}
const ttlAt = args.indexOf('--expires-in');
const expiresIn = ttlAt >= 0 ? Number(args[ttlAt + 1]) : undefined;

const require = createRequire(join(npmDir, 'package.json'));
const { OAuth2Server, Events } = await import(pathToFileURL(require.resolve('oauth2-mock-server')).href);

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');

function clientIdOf(req) {
  const auth = req.headers.authorization ?? '';
  if (auth.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString();
    const colon = decoded.indexOf(':');
    return decodeURIComponent(colon >= 0 ? decoded.slice(0, colon) : decoded);
  }
  return req.body?.client_id;
}
server.service.on(Events.BeforeTokenSigning, (token, req) => {
  const clientId = clientIdOf(req);
  if (clientId) token.payload.client_id = clientId;
  if (typeof req.body?.resource === 'string') token.payload.aud = req.body.resource;
  if (expiresIn !== undefined) token.payload.exp = Math.floor(Date.now() / 1000) + expiresIn;
});
if (expiresIn !== undefined) {
  server.service.on(Events.BeforeResponse, (response) => {
    if (response.body && 'expires_in' in response.body) response.body.expires_in = expiresIn;
  });
}

await server.start(0, '127.0.0.1');
const { port } = server.address();
server.issuer.url = `http://127.0.0.1:${port}`;
if (process.env.MCPCHAT_PORT_FILE) {
  const file = process.env.MCPCHAT_PORT_FILE;
  writeFileSync(file + '.tmp', String(port));
  renameSync(file + '.tmp', file);
}
console.log(server.issuer.url);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
