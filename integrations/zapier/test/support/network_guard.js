'use strict';
// Loopback only: every TCP connection to anything but 127.0.0.1/::1/localhost
// is refused before it starts, so neither the app, zapier-platform-core
// (logging, RPC) nor the CLI (analytics, update checks) can reach Zapier's
// servers or anything else during tests. Loaded by jest (setupFiles) and by
// `node --require` for the CLI.
const net = require('net');

if (!net.Socket.prototype.__loopbackOnly) {
  const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);
  const original = net.Socket.prototype.connect;
  const blocked = [];

  const target = (args) => {
    let first = args[0];
    if (Array.isArray(first)) first = first[0]; // internal normalized form
    if (first && typeof first === 'object') {
      if (first.path) return null; // unix socket
      return first.host || 'localhost';
    }
    if (typeof first === 'string' && Number.isNaN(Number(first))) return null; // unix path
    return typeof args[1] === 'string' ? args[1] : 'localhost';
  };

  net.Socket.prototype.connect = function connect(...args) {
    const host = target(args);
    if (host !== null && !LOOPBACK.has(String(host).replace(/^\[|\]$/g, ''))) {
      blocked.push(host);
      process.stderr.write(`network_guard: refused a connection to ${host}\n`);
      const err = new Error(`network_guard: connections to ${host} are not allowed in tests`);
      err.code = 'ECONNREFUSED';
      process.nextTick(() => this.destroy(err));
      return this;
    }
    return original.apply(this, args);
  };
  Object.defineProperty(net.Socket.prototype, '__loopbackOnly', { value: blocked });
}

module.exports = { blocked: () => net.Socket.prototype.__loopbackOnly };
