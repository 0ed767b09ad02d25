'use strict';
// In-process HTTP servers for tests, on 127.0.0.1 and a free port:
// - Receiver: stands in for Zapier's callback / REST-hook URLs and keeps the
//   exact bytes and headers the gateway POSTs;
// - FakeZapierRpc: the two calls z.stashFile makes (RPC for a presigned POST,
//   then the S3-style upload), so hydration runs offline.
const crypto = require('crypto');
const http = require('http');

const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));

const close = (server) =>
  new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

const readBody = (req) =>
  new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

class Receiver {
  constructor(statusFor = () => 200) {
    this.received = [];
    this.statusFor = statusFor;
    this.waiters = [];
    this.server = http.createServer(async (req, res) => {
      const body = await readBody(req);
      const n = this.received.length;
      this.received.push({ method: req.method, path: req.url, headers: req.headers, body });
      res.writeHead(this.statusFor(n));
      res.end();
      this.waiters.forEach((w) => w());
    });
  }

  async start() {
    const port = await listen(this.server);
    this.url = `http://127.0.0.1:${port}/hook`;
    return this;
  }

  // Resolves with the list once predicate(list) holds; rejects after timeoutMs.
  waitFor(predicate, timeoutMs = 60000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate(this.received)) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve([...this.received]);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`receiver: condition not met in ${timeoutMs} ms; got ${this.received.length} requests`));
      }, timeoutMs);
      if (!check()) this.waiters.push(check);
    });
  }

  stop() {
    return close(this.server);
  }
}

// Minimal multipart/form-data reader: returns {fields, files: {name: Buffer}}.
const parseMultipart = (body, contentType) => {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) throw new Error(`not multipart: ${contentType}`);
  const delimiter = Buffer.from(`--${boundary[1] || boundary[2]}`);
  const fields = {};
  const files = {};
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(start + delimiter.length + 2, next - 2); // strip CRLFs
    const split = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, split).toString('utf8');
    const content = part.subarray(split + 4);
    const name = /name="([^"]*)"/i.exec(head)[1];
    if (/filename=/i.test(head)) files[name] = { content, head };
    else fields[name] = content.toString('utf8');
    start = next;
  }
  return { fields, files };
};

class FakeZapierRpc {
  constructor() {
    this.calls = [];
    this.stored = new Map(); // key -> {content, fields}
    this.server = http.createServer(async (req, res) => {
      const body = await readBody(req);
      const url = new URL(req.url, 'http://127.0.0.1');
      if (req.method === 'POST' && url.pathname === '/platform/rpc/cli') {
        const call = JSON.parse(body.toString('utf8'));
        this.calls.push({ method: call.method, deployKey: req.headers['x-deploy-key'] });
        let payload;
        if (call.method === 'get_presigned_upload_post_data') {
          const key = `stash/${crypto.randomBytes(8).toString('hex')}`;
          payload = { id: call.id, result: { url: `${this.url}/s3/`, fields: { key, policy: 'fake' } } };
        } else {
          payload = { id: call.id, error: `fake rpc: ${call.method} is not implemented` };
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
        return;
      }
      if (req.method === 'POST' && url.pathname === '/s3/') {
        const { fields, files } = parseMultipart(body, req.headers['content-type']);
        this.stored.set(fields.key, { content: files.file.content, fields, head: files.file.head });
        res.writeHead(204);
        res.end();
        return;
      }
      if (req.method === 'GET' && url.pathname.startsWith('/s3/')) {
        const item = this.stored.get(url.pathname.slice('/s3/'.length));
        res.writeHead(item ? 200 : 404);
        res.end(item ? item.content : undefined);
        return;
      }
      res.writeHead(404);
      res.end();
    });
  }

  async start() {
    const port = await listen(this.server);
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  stop() {
    return close(this.server);
  }
}

module.exports = { Receiver, FakeZapierRpc, parseMultipart };
