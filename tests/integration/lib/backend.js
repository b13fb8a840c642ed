'use strict';
// A stand-in for the application backend behind Lucent's proxy hooks (a Laravel app in the
// examples): a Node HTTP server on 127.0.0.1 that records every request and answers from a
// per-test scenario table.
//
// A scenario is {status = 200, json | body, headers, delayMs, destroy, garbage}:
//   json     the response body, serialised (Content-Type application/json)
//   body     the response body as is (a string or Buffer; wins over json)
//   delayMs  answer after this long (the socket may be gone by then: that is ignored)
//   destroy  close the socket without answering
//   garbage  write bytes that are not HTTP, then close the socket
// A scenario may also be a function (request) → scenario, to answer from what was asked.
// Paths without a scenario are answered 404.
//
// Keep-alive is on (the server keeps idle connections for a minute), and every accepted TCP
// connection is counted, so a test can show that the proxy client reuses its connections.

const http = require('node:http');
const { after } = require('node:test');
const { EventQueue } = require('./wait');

const tracked = new Set();

/**
 * Start a backend. scenarios: {path: scenario | (req) => scenario}.
 * Resolves {port, url(path), set(path, scenario), next(path, ms, pred), calls(path), all(),
 * reset(), connections, open, close()}.
 */
async function startBackend(scenarios = {}) {
  const table = new Map(Object.entries(scenarios));
  const recorded = []; // every request, in arrival order
  const queues = new Map(); // path → EventQueue of requests not yet taken with next()
  const sockets = new Set();
  let connections = 0;

  const queueOf = (path) => {
    if (!queues.has(path)) queues.set(path, new EventQueue(`backend request to ${path}`));
    return queues.get(path);
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = (req.url || '/').split('?')[0];
      const rec = {
        method: req.method,
        path,
        url: req.url,
        headers: req.headers, // names lower-cased by node
        rawHeaders: req.rawHeaders,
        body: raw,
        json: undefined,
        form: undefined,
        time: Date.now(),
        socket: req.socket.lcId,
      };
      const type = String(req.headers['content-type'] || '');
      if (type.startsWith('application/x-www-form-urlencoded')) {
        rec.form = Object.fromEntries(new URLSearchParams(raw));
      } else {
        try {
          rec.json = JSON.parse(raw);
        } catch {
          /* not JSON: the test looks at rec.body */
        }
      }
      recorded.push(rec);
      queueOf(path).push(rec);
      answer(req, res, rec);
    });
  });

  function answer(req, res, rec) {
    let sc = table.get(rec.path);
    if (typeof sc === 'function') sc = sc(rec);
    if (!sc) sc = { status: 404, body: 'no scenario' };
    const go = () => {
      if (res.destroyed || req.socket.destroyed) return; // the caller gave up meanwhile
      if (sc.destroy) {
        req.socket.destroy();
        return;
      }
      if (sc.garbage) {
        req.socket.end('\x00\x01\x02 this is not HTTP \xff\r\n\r\n');
        req.socket.destroySoon();
        return;
      }
      let body = sc.body;
      const headers = { ...(sc.headers || {}) };
      if (body === undefined && sc.json !== undefined) {
        body = JSON.stringify(sc.json);
        headers['Content-Type'] = headers['Content-Type'] || 'application/json';
      }
      if (body === undefined) body = '';
      headers['Content-Length'] = Buffer.byteLength(body);
      res.on('error', () => {});
      res.writeHead(sc.status ?? 200, headers);
      res.end(body);
    };
    if (sc.delayMs > 0) setTimeout(go, sc.delayMs);
    else go();
  }

  server.keepAliveTimeout = 60000;
  server.headersTimeout = 65000;
  server.requestTimeout = 0;
  server.on('connection', (sock) => {
    connections++;
    sock.lcId = connections;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
  });
  server.on('clientError', (err, sock) => sock.destroy());

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    // a deep backlog: the load test opens thousands of proxy calls at once
    server.listen({ port: 0, host: '127.0.0.1', backlog: 8192 }, resolve);
  });
  const { port } = server.address();

  let closed = false;
  const backend = {
    port,
    server,
    /** Absolute URL of a path on this backend (for proxy `endpoint`). */
    url(path = '/') {
      return `http://127.0.0.1:${port}${path}`;
    },
    /** Replace (or add) the scenario of a path. */
    set(path, scenario) {
      table.set(path, scenario);
    },
    /** The next request to path not yet taken (waits up to timeoutMs); pred picks one. */
    next(path, timeoutMs = 5000, pred = () => true) {
      return queueOf(path).take(pred, timeoutMs, `backend request to ${path}`);
    },
    /** Every request recorded for path so far (taken or not). */
    calls(path) {
      return recorded.filter((r) => r.path === path);
    },
    all() {
      return recorded.slice();
    },
    /** Forget recorded requests (between phases of one test). */
    reset() {
      recorded.length = 0;
      queues.clear();
    },
    /** TCP connections accepted since start. */
    get connections() {
      return connections;
    },
    /** TCP connections open now. */
    get open() {
      return sockets.size;
    },
    async close() {
      if (closed) return;
      closed = true;
      tracked.delete(backend);
      for (const q of queues.values()) q.end(new Error('backend closed'));
      await new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
  tracked.add(backend);
  return backend;
}

/** Close every backend still open; runs by itself when a test file ends. */
async function closeAllBackends() {
  await Promise.all([...tracked].map((b) => b.close()));
}

after(closeAllBackends);

/** Form-encoded body as Laravel's /broadcasting/auth receives it from pusher-js. */
function formBody(fields) {
  return new URLSearchParams(fields).toString();
}

module.exports = { startBackend, closeAllBackends, formBody };
