// Preloaded into Node peers by the tests (`node --require tests/peers/loopback.cjs ...`):
// forces every listening socket onto 127.0.0.1 (many servers bind all interfaces), and,
// when MCPCHAT_PORT_FILE is set, writes the first bound port there so tests can use PORT=0
// (and with MCPCHAT_LISTEN_PORT_ZERO=1 even a hard-coded port becomes 0).
'use strict';
const net = require('net');
const fs = require('fs');
const listen = net.Server.prototype.listen;
let reported = false;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || typeof args[0] === 'string' && /^\d+$/.test(args[0])) {
    // MCPCHAT_LISTEN_PORT_ZERO=1: servers with a hard-coded port get a free one instead.
    const port = process.env.MCPCHAT_LISTEN_PORT_ZERO === '1' ? 0 : Number(args[0]);
    const rest = args.slice(1).filter((a) => typeof a === 'function' || typeof a === 'object' && a !== null && !Array.isArray(a) && false);
    const callback = args.find((a) => typeof a === 'function');
    args = callback ? [port, '127.0.0.1', callback] : [port, '127.0.0.1'];
    void rest;
  } else if (args[0] && typeof args[0] === 'object' && !Array.isArray(args[0]) && 'port' in args[0]) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  this.once('listening', () => {
    const file = process.env.MCPCHAT_PORT_FILE;
    const address = this.address();
    if (file && !reported && address && typeof address === 'object') {
      reported = true;
      fs.writeFileSync(file + '.tmp', String(address.port));
      fs.renameSync(file + '.tmp', file);
    }
  });
  return listen.apply(this, args);
};
