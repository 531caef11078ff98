// Runs @dwmkerr/mock-llm on 127.0.0.1 with an OS-chosen port, race-free:
//   node tests/peers/mock_llm_oauth.cjs "$DIR/npm/node_modules/@dwmkerr/mock-llm" tests/peers/mock-llm-oauth.yaml
// mock-llm's main.js computes its OAuth issuer from HOST:PORT before it listens, so PORT=0 would
// advertise "http://127.0.0.1:0/". This wrapper binds port 0 first, then builds mock-llm's own
// express app (dist/server.js createServer, as main.js does) with the real port and serves it.
// Leave metadata.issuerOverride out of the config (it would win over the real port).
// With env MCPCHAT_PORT_FILE=path the port is written there (atomically) once listening;
// the last stdout line is then "mock-llm listening on http://127.0.0.1:PORT".
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const [pkgDir, configPath] = process.argv.slice(2);
if (!pkgDir || !configPath) {
  console.error('usage: node mock_llm_oauth.cjs MOCK_LLM_PACKAGE_DIR CONFIG.yaml');
  process.exit(2);
}
const { loadConfig } = require(path.join(pkgDir, 'dist/config.js'));
const { createServer } = require(path.join(pkgDir, 'dist/server.js'));
// loadConfig silently falls back to the defaults (no OAuth) when the file is missing.
if (!fs.existsSync(configPath)) {
  console.error(`config not found: ${configPath}`);
  process.exit(2);
}
const config = loadConfig(configPath);

const server = http.createServer();
server.on('error', (err) => { console.error(err); process.exit(1); });
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const app = createServer(config, '127.0.0.1', port);
  server.on('request', app);
  const file = process.env.MCPCHAT_PORT_FILE;
  if (file) {
    fs.writeFileSync(file + '.tmp', String(port));
    fs.renameSync(file + '.tmp', file);
  }
  console.log(`mock-llm listening on http://127.0.0.1:${port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
