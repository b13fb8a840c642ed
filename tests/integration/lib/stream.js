'use strict';
// Clients for the HTTP-based transports (spec §8): raw HTTP-streaming and SSE responses read
// line by line or event by event, the bidirectional emulation (`POST /emulation`), the
// unidirectional transports (uni_http_stream, uni_sse, uni_websocket), a hand-made HTTP client
// over a bare TCP socket that can stop reading, and centrifuge-js set up for its `http_stream`
// and `sse` transports in Node. Streams and clients opened during a test are closed after it
// ({persistent: true} keeps them to the end of the file).

const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const { afterEach, after } = require('node:test');
const { centrifugeClass } = require('./client');
const { EventSource } = require('eventsource');
const WebSocket = require('ws');
const { request } = require('./api');
const { EventQueue, withTimeout } = require('./wait');

const perTest = new Set();
const perFile = new Set();

function track(closer, persistent) {
  (persistent ? perFile : perTest).add(closer);
  return closer;
}

async function closeSet(set) {
  const all = [...set];
  set.clear();
  await Promise.allSettled(all.map((c) => c()));
}

afterEach(() => closeSet(perTest));
after(() => closeSet(perFile));

const isPing = (m) => m !== null && typeof m === 'object' && !Array.isArray(m) && Object.keys(m).length === 0;

/** Newline-joined JSON of commands, as centrifuge-js encodes a batch. */
const commandLines = (commands) => commands.map((c) => (typeof c === 'string' ? c : JSON.stringify(c))).join('\n');

// ---------------------------------------------------------------------------------------------
// streaming HTTP responses

/**
 * Splits a growing text into messages. 'lines': one JSON value per `\n`-terminated line
 * (HTTP-streaming). 'sse': an optional leading `\r\n`, then events separated by a blank line,
 * each made of `data: ` lines. Calls onMessage(text) per message and onBad(text) for anything
 * else (an SSE field other than data, a line without a prefix).
 */
class MessageSplitter {
  constructor(format) {
    this.format = format;
    this.buf = '';
    this.started = false;
    this.preamble = null; // SSE: whether the body started with "\r\n"
    this.events = []; // SSE: raw event blocks, for exact shape checks
  }

  feed(text, onMessage, onBad) {
    this.buf += text;
    if (this.format === 'lines') {
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        onMessage(line);
      }
      return;
    }
    if (!this.started) {
      if (this.buf.length < 2) return;
      this.started = true;
      this.preamble = this.buf.startsWith('\r\n');
      if (this.preamble) this.buf = this.buf.slice(2);
    }
    let end;
    while ((end = this.buf.indexOf('\n\n')) >= 0) {
      const block = this.buf.slice(0, end);
      this.buf = this.buf.slice(end + 2);
      this.events.push(block);
      const data = [];
      let bad = false;
      for (const line of block.split('\n')) {
        if (line.startsWith('data: ')) data.push(line.slice(6));
        else bad = true;
      }
      if (bad || data.length === 0) onBad(block);
      else onMessage(data.join('\n'));
    }
  }
}

/**
 * Send one HTTP request and read its response as a stream of JSON messages.
 *   opts.method (default 'POST'), opts.body (string | object → JSON), opts.headers
 *   opts.format: 'lines' (HTTP-streaming) or 'sse'
 *   opts.keepPings: also queue empty objects (pings); by default they are only counted
 *   opts.onPing(stream): called for every ping
 *   opts.timeoutMs: how long to wait for the response headers
 * Resolves when the response headers arrived, with:
 *   status, headers, text() → body so far, all → every message parsed so far (pings included),
 *   messages (EventQueue without pings), next(ms), take(pred, ms, what), pings (count),
 *   invalid → unparsable lines / SSE blocks, preamble() → SSE body started with "\r\n",
 *   events() → SSE raw event blocks, ended → Promise<{complete}> (complete: the response ended
 *   normally, not by a reset), isEnded(), destroy(), req, res.
 */
function openStream(server, path, opts = {}) {
  const { method = 'POST', headers = {}, format = 'lines', keepPings = false, timeoutMs = 5000, persistent } = opts;
  let payload = opts.body;
  if (payload !== undefined && typeof payload !== 'string' && !Buffer.isBuffer(payload)) payload = JSON.stringify(payload);
  const hdrs = { ...headers };
  if (payload !== undefined) hdrs['Content-Length'] = Buffer.byteLength(payload);

  const splitter = new MessageSplitter(format);
  const messages = new EventQueue(`message on ${path}`);
  let body = '';
  let endedFlag = false;
  let resolveEnded;
  const ended = new Promise((r) => (resolveEnded = r));

  const stream = {
    status: 0,
    headers: {},
    all: [],
    invalid: [],
    messages,
    pings: 0,
    ended,
    text: () => body,
    preamble: () => splitter.preamble,
    events: () => splitter.events.slice(),
    next: (ms = 5000) => messages.next(ms),
    take: (pred, ms = 5000, what = 'message') => messages.take(pred, ms, what),
    isEnded: () => endedFlag,
    destroy() {
      if (stream.req) stream.req.destroy();
    },
  };

  const finish = (complete) => {
    if (endedFlag) return;
    endedFlag = true;
    messages.end(new Error(`the response of ${method} ${path} ended`));
    resolveEnded({ complete });
  };

  const onMessage = (text) => {
    let m;
    try {
      m = JSON.parse(text);
    } catch {
      stream.invalid.push(text);
      return;
    }
    stream.all.push(m);
    if (isPing(m)) {
      stream.pings++;
      if (opts.onPing) opts.onPing(stream);
      if (!keepPings) return;
    }
    messages.push(m);
  };
  const onBad = (text) => stream.invalid.push(text);

  track(async () => {
    stream.destroy();
    await withTimeout(ended, 2000, 'stream close').catch(() => {});
  }, persistent);

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for the response headers of ${method} ${path}`));
    }, timeoutMs);
    const req = http.request({ host: '127.0.0.1', port: server.port, path, method, headers: hdrs, agent: false }, (res) => {
      clearTimeout(timer);
      stream.res = res;
      stream.status = res.statusCode;
      stream.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
        splitter.feed(d, onMessage, onBad);
      });
      res.on('end', () => finish(true));
      res.on('aborted', () => finish(false));
      res.on('error', () => finish(false));
      res.on('close', () => finish(res.complete));
      resolve(stream);
    });
    stream.req = req;
    req.on('error', (err) => {
      clearTimeout(timer);
      finish(false);
      reject(err);
    });
    req.on('close', () => {
      if (!stream.res) finish(false);
    });
    if (payload !== undefined) req.end(payload);
    else req.end();
  });
}

/** Wait for the end of a stream's response; resolves {complete}. */
function streamEnd(stream, ms = 5000, what = 'the end of the response') {
  return withTimeout(stream.ended, ms, what);
}

// ---------------------------------------------------------------------------------------------
// bidirectional emulation

/** The body centrifuge-js posts to /emulation: `data` is a string of command lines. */
function emulationBody(session, node, commands) {
  return { session, node, data: commandLines(commands) };
}

/** POST /emulation with a body (object → JSON, or a string sent as is). Resolves {status, text, ...}. */
function emulate(server, body, { headers = {}, path = '/emulation' } = {}) {
  return request(server, path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
}

/**
 * Open an emulation stream with a connect command (plus any `extra` commands in the same
 * request) and wait for the connect reply.
 *   transport: 'http_stream' (POST body) or 'sse' (GET ?cf_connect= or, with sseMethod 'POST', body)
 *   connect: the ConnectRequest ({token}); autoPong (default true): answer pings via /emulation
 *   expectConnect (default true): fail unless the first message is a connect reply
 * Resolves the stream with: session, node, client, first (the first message), connectResult,
 * cmd(obj) → Promise<id> (POSTs one command via /emulation, asserting 204),
 * call(obj, ms) → the reply, reply(id, ms), push(pred, ms, what) → {push} message.
 */
async function emulationSession(server, opts = {}) {
  const { transport = 'http_stream', connect = {}, extra = [], autoPong = true, expectConnect = true, sseMethod = 'GET' } = opts;
  const lines = commandLines([{ id: 1, connect }, ...extra]);
  let pongErrors = 0;
  const streamOpts = {
    keepPings: opts.keepPings,
    persistent: opts.persistent,
    onPing: (s) => {
      if (!autoPong || !s.session) return;
      emulate(server, emulationBody(s.session, s.node, [{}])).then(
        (r) => {
          if (r.status !== 204) pongErrors++;
        },
        () => pongErrors++,
      );
    },
  };
  let s;
  if (transport === 'http_stream') {
    s = await openStream(server, opts.path ?? '/connection/http_stream', {
      ...streamOpts,
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: lines,
      format: 'lines',
    });
  } else if (sseMethod === 'POST') {
    s = await openStream(server, opts.path ?? '/connection/sse', {
      ...streamOpts,
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: lines,
      format: 'sse',
    });
  } else {
    s = await openStream(server, `${opts.path ?? '/connection/sse'}?cf_connect=${encodeURIComponent(lines)}`, {
      ...streamOpts,
      method: 'GET',
      format: 'sse',
    });
  }
  assert.equal(s.status, 200, `${transport} connect: HTTP ${s.status} ${s.text()}`);
  s.pongErrors = () => pongErrors;
  s.first = await s.next(5000);
  if (expectConnect) {
    assert.ok(s.first.id === 1 && s.first.connect, `${transport}: first message is not the connect reply: ${JSON.stringify(s.first)}`);
  }
  if (s.first.connect) {
    s.connectResult = s.first.connect;
    s.client = s.first.connect.client;
    s.session = s.first.connect.session;
    s.node = s.first.connect.node;
  }
  let nextId = 2 + extra.length;
  s.cmd = async (obj) => {
    const id = obj.id ?? nextId++;
    const r = await emulate(server, emulationBody(s.session, s.node, [{ id, ...obj }]));
    assert.equal(r.status, 204, `POST /emulation: HTTP ${r.status} ${r.text}`);
    return id;
  };
  s.reply = (id, ms = 5000) => s.take((m) => m.id === id, ms, `reply to command ${id}`);
  s.call = async (obj, ms = 5000) => s.reply(await s.cmd(obj), ms);
  s.push = (pred = () => true, ms = 5000, what = 'push') => s.take((m) => m.push !== undefined && pred(m.push), ms, what);
  return s;
}

// ---------------------------------------------------------------------------------------------
// unidirectional transports

/**
 * uni_http_stream: POST the ConnectRequest (object → JSON; a string is sent as is; undefined:
 * no body).
 * Resolves the stream (see openStream); messages are bare pushes.
 */
function uniHttpStream(server, connectRequest, opts = {}) {
  return openStream(server, opts.path ?? '/connection/uni_http_stream', {
    method: opts.method ?? 'POST',
    headers: { 'Content-Type': 'application/json', ...(opts.headers || {}) },
    body: connectRequest,
    format: 'lines',
    keepPings: opts.keepPings,
    persistent: opts.persistent,
  });
}

/**
 * uni_sse: GET with ?cf_connect=<JSON> (method 'GET', the default; connectRequest undefined
 * → no query) or POST with the JSON body (method 'POST').
 */
function uniSse(server, connectRequest, opts = {}) {
  const path = opts.path ?? '/connection/uni_sse';
  const base = { format: 'sse', keepPings: opts.keepPings, persistent: opts.persistent };
  if ((opts.method ?? 'GET') === 'POST') {
    return openStream(server, path, { ...base, method: 'POST', headers: { 'Content-Type': 'application/json' }, body: connectRequest });
  }
  const q = connectRequest === undefined ? '' : `?cf_connect=${encodeURIComponent(JSON.stringify(connectRequest))}`;
  return openStream(server, `${path}${q}`, { ...base, method: 'GET' });
}

/**
 * uni_websocket: the ConnectRequest as the first text message, or in ?cf_connect= (opts.query).
 * opts.firstMessage: send this text instead (bad JSON tests).
 * Resolves once open with: messages (EventQueue of pushes, pings skipped unless keepPings),
 * all, pings (app-level `{}`), nativePings (WebSocket ping frames), next(ms), take(pred, ms,
 * what), closed → Promise<{code, reason}>, isEnded(), destroy(), ws.
 */
function uniWebSocket(server, connectRequest, opts = {}) {
  const path = opts.path ?? '/connection/uni_websocket';
  const q = opts.query ? `?cf_connect=${encodeURIComponent(JSON.stringify(connectRequest))}` : '';
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}${path}${q}`, { handshakeTimeout: 5000, maxPayload: 64 * 1024 * 1024 });
  const messages = new EventQueue(`message on ${path}`);
  let endedFlag = false;
  const c = {
    ws,
    messages,
    all: [],
    invalid: [],
    frames: [],
    pings: 0,
    nativePings: 0,
    next: (ms = 5000) => messages.next(ms),
    take: (pred, ms = 5000, what = 'message') => messages.take(pred, ms, what),
    isEnded: () => endedFlag,
    destroy() {
      ws.terminate();
    },
  };
  ws.on('ping', () => c.nativePings++);
  ws.on('message', (data, isBinary) => {
    const text = data.toString('utf8');
    c.frames.push(isBinary ? { binary: data } : text);
    for (const line of text.split('\n')) {
      let m;
      try {
        m = JSON.parse(line);
      } catch {
        c.invalid.push(line);
        continue;
      }
      c.all.push(m);
      if (isPing(m)) {
        c.pings++;
        if (!opts.keepPings) continue;
      }
      messages.push(m);
    }
  });
  c.closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      endedFlag = true;
      const r = { code, reason: reason.toString('utf8') };
      messages.end(new Error(`uni_websocket closed (code ${r.code}, reason "${r.reason}")`));
      resolve(r);
    });
  });
  c.ended = c.closed;
  track(async () => {
    if (ws.readyState === WebSocket.OPEN) ws.close(1000);
    await withTimeout(c.closed, 2000, 'uni_websocket close').catch(() => ws.terminate());
  }, opts.persistent);
  return new Promise((resolve, reject) => {
    let open = false;
    ws.once('open', () => {
      open = true;
      if (!opts.query) ws.send(opts.firstMessage ?? JSON.stringify(connectRequest));
      resolve(c);
    });
    ws.on('error', (err) => {
      if (!open) reject(err);
    });
  });
}

/** The three unidirectional transports by name, each (server, connectRequest, opts) → client. */
const UNI = {
  uni_http_stream: uniHttpStream,
  uni_sse: uniSse,
  uni_websocket: uniWebSocket,
};

// ---------------------------------------------------------------------------------------------
// HTTP over a bare TCP socket

/** Decode a chunked body as far as it goes (the payload of a chunk cut short is included). */
function dechunk(buf) {
  const parts = [];
  let off = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', off);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(off, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    const start = eol + 2;
    parts.push(buf.subarray(start, Math.min(start + size, buf.length)));
    if (start + size + 2 > buf.length) break;
    off = start + size + 2;
  }
  return Buffer.concat(parts);
}

/**
 * Send one HTTP/1.1 request over a bare TCP socket so the test can stop reading
 * (socket.pause()) and let the server's queue fill. Resolves once connected with:
 * socket, bytes() → bytes received, head() → status line and headers (once complete),
 * body() → the decoded body so far (chunked or not), lines() → its complete lines,
 * until(pred, ms, what) → true when pred() holds, or pred()'s value when the socket closes,
 * ended (socket closed), destroy().
 */
function rawHttp(port, { method = 'POST', path = '/', headers = {}, body = '', timeoutMs = 5000 } = {}) {
  const socket = net.connect({ host: '127.0.0.1', port });
  let buf = Buffer.alloc(0);
  let received = 0;
  const payload = Buffer.from(body);
  const ended = new Promise((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => {
    /* reset by the server: 'close' follows */
  });
  socket.on('data', (d) => {
    received += d.length;
    buf = Buffer.concat([buf, d]);
  });
  const headEnd = () => buf.indexOf('\r\n\r\n');
  const c = {
    socket,
    ended,
    bytes: () => received,
    head: () => (headEnd() < 0 ? '' : buf.subarray(0, headEnd()).toString('latin1')),
    body() {
      const e = headEnd();
      if (e < 0) return '';
      const rest = buf.subarray(e + 4);
      return (/\r\ntransfer-encoding:\s*chunked/i.test(c.head()) ? dechunk(rest) : rest).toString('utf8');
    },
    lines() {
      const text = c.body();
      const cut = text.lastIndexOf('\n');
      return cut < 0 ? [] : text.slice(0, cut).split('\n');
    },
    until(pred, ms, what) {
      let cleanup;
      const p = new Promise((resolve) => {
        const check = () => {
          if (pred()) {
            cleanup();
            resolve(true);
          }
        };
        const onClose = () => {
          cleanup();
          resolve(pred());
        };
        cleanup = () => {
          socket.removeListener('data', check);
          socket.removeListener('close', onClose);
        };
        socket.on('data', check);
        socket.on('close', onClose);
        if (socket.destroyed) onClose();
        else check();
      });
      return withTimeout(p, ms, what).finally(() => cleanup());
    },
    destroy() {
      socket.destroy();
    },
  };
  track(async () => socket.destroy());
  const ready = new Promise((resolve, reject) => {
    socket.once('connect', () => {
      const hdrs = { Host: `127.0.0.1:${port}`, 'Content-Length': payload.length, ...headers };
      const head = Object.entries(hdrs)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(Buffer.concat([Buffer.from(`${method} ${path} HTTP/1.1\r\n${head}\r\n`), payload]));
      resolve(c);
    });
    socket.once('error', reject);
  });
  return withTimeout(ready, timeoutMs, 'TCP connect');
}

// ---------------------------------------------------------------------------------------------
// centrifuge-js over http_stream / sse

/**
 * A centrifuge-js client (not yet connected) using one emulation transport:
 * `transport` is 'http_stream' or 'sse'. Node has no EventSource: the one of the npm
 * `eventsource` package is given. The emulation endpoint must be absolute outside a browser.
 * opts are Centrifuge options (fetch may be replaced, e.g. to watch emulation requests);
 * `persistent` keeps it open across the tests of the file. Has the same `lc` record as the
 * WebSocket clients of lib/client.js, so connected() / disconnected() work on it.
 */
function newStreamClient(server, transport, opts = {}) {
  const { persistent, endpoint, encoding, ...centrifugeOpts } = opts;
  const Client = centrifugeClass(encoding);
  const c = new Client([{ transport, endpoint: endpoint ?? `${server.url}/connection/${transport}` }], {
    emulationEndpoint: `${server.url}/emulation`,
    fetch: globalThis.fetch,
    readableStream: globalThis.ReadableStream,
    eventsource: EventSource,
    minReconnectDelay: 100,
    maxReconnectDelay: 1000,
    timeout: 5000,
    ...centrifugeOpts,
  });
  c.lc = { connectedCtx: null, disconnectedCtx: null, errors: [], events: [] };
  c.on('connected', (ctx) => {
    c.lc.connectedCtx = ctx;
    c.lc.events.push({ type: 'connected', ctx });
  });
  c.on('connecting', (ctx) => c.lc.events.push({ type: 'connecting', ctx }));
  c.on('disconnected', (ctx) => {
    c.lc.disconnectedCtx = ctx;
    c.lc.events.push({ type: 'disconnected', ctx });
  });
  c.on('error', (ctx) => c.lc.errors.push(ctx));
  track(async () => c.disconnect(), persistent);
  return c;
}

/**
 * Close a centrifuge-js emulation transport from the client side, as a dropped network would:
 * the stream request is aborted and the SDK reconnects on its own.
 */
function dropStream(c) {
  const transport = c._transport;
  assert.ok(transport && typeof transport.emulation === 'function' && transport.emulation(), 'client has no emulation transport');
  transport.close();
}

/**
 * A fetch that records what centrifuge-js posts to /emulation: returns {fetch, bodies}, where
 * bodies are the parsed request bodies ({session, node, data}).
 */
function recordingFetch() {
  const bodies = [];
  const fetch = (url, init = {}) => {
    if (String(url).endsWith('/emulation') && typeof init.body === 'string') {
      try {
        bodies.push(JSON.parse(init.body));
      } catch {
        bodies.push({ _invalid: init.body });
      }
    }
    return globalThis.fetch(url, init);
  };
  return { fetch, bodies };
}

module.exports = {
  isPing,
  commandLines,
  openStream,
  streamEnd,
  emulationBody,
  emulate,
  emulationSession,
  uniHttpStream,
  uniSse,
  uniWebSocket,
  UNI,
  rawHttp,
  dechunk,
  newStreamClient,
  dropStream,
  recordingFetch,
};
