'use strict';
// Transport hardening (issue 11): the descriptor limit with two workers, the connection caps,
// peers that never read, WebSocket fragment floods, headers checked before bodies, the
// header/body/idle/handshake timeouts, and a second process on the same port. Every flood
// prints the server's RSS before and after.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const http = require('node:http');
const { startServer, defaultConfig, assertCleanExit, withLogsOnFailure, binaryPath } = require('./lib/server');
const { request, api, publish } = require('./lib/api');
const { newClient, connected, disconnected, newSubscription, subscribed, nextPublication } = require('./lib/client');
const { encodeFrame, tcpWebSocket } = require('./lib/rawsocket');
const { connToken } = require('./lib/jwt');
const { sleep, waitUntil, withTimeout } = require('./lib/wait');

// RSS measured under AddressSanitizer counts its quarantine of freed memory (256 MB by
// default): keep it small for the servers whose memory a test measures.
const MEASURED = { env: { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || 'detect_leaks=1'}:quarantine_size_mb=4:thread_local_quarantine_size_kb=64` } };

function rssKb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

function openFds(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Wait until the server's RSS stops growing (under 1 MB over 2 s) or ms pass; returns it. */
async function settledRss(pid, ms) {
  const t0 = Date.now();
  const samples = [];
  for (;;) {
    await sleep(500);
    samples.push(rssKb(pid));
    const last = samples.slice(-5);
    if (last.length === 5 && Math.max(...last) - Math.min(...last) < 1024) break;
    if (Date.now() - t0 >= ms) break;
  }
  return samples[samples.length - 1];
}

function report(what, before, after) {
  console.log(`# ${what}: RSS ${(before / 1024).toFixed(1)} MB -> ${(after / 1024).toFixed(1)} MB (+${((after - before) / 1024).toFixed(1)} MB)`);
}

/** A plain TCP connection; resolves once connected. */
function tcp(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Collect what a socket receives until it closes or ms pass. Resolves {text, closed, ms}. */
function drain(s, ms) {
  const t0 = Date.now();
  return new Promise((resolve) => {
    let text = '';
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ text, closed, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), ms);
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('close', () => finish(true));
    s.on('error', () => {});
  });
}

test('at the descriptor limit with 2 workers: accepting pauses, existing clients are served, one log line a second, accepting resumes', async () => {
  const cfg = defaultConfig();
  cfg.workers = 2;
  cfg.log = { level: 'info' };
  // a cap above what the limit allows: the descriptor limit itself is what is hit
  cfg.http_server = { max_connections: 100000, read_header_timeout: '60s' };
  const server = await startServer(cfg, { nofile: 256 });
  await withLogsOnFailure(server, async () => {
    const token = connToken(server.secret, 'u1');
    const c = newClient(server, { token });
    await connected(c);
    const sub = newSubscription(c, 'news');
    sub.subscribe();
    await subscribed(sub);
    // a keep-alive API connection opened before the flood
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal((await api(server, 'info', {}, { agent })).status, 200);

    const flood = [];
    const t0 = Date.now();
    for (let i = 0; i < 400; i++) {
      try {
        flood.push(await withTimeout(tcp(server.port), 2000, 'tcp connect'));
      } catch {
        break;
      }
    }
    await sleep(1000);
    const fds = openFds(server.pid);
    const cpu0 = cpuTicks(server.pid);
    const logsBefore = server.logs().split('\n').filter((l) => l.includes('not accepting new connections')).length;
    await sleep(3000);
    const cpuUsed = cpuTicks(server.pid) - cpu0; // clock ticks (1/100 s)
    const logLines = server.logs().split('\n').filter((l) => l.includes('not accepting new connections')).length;
    console.log(`# ${flood.length} flood sockets connected, ${fds} server descriptors, ${cpuUsed} ticks of CPU in 3 s, ${logLines} limit log lines in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.ok(fds >= 240, `the server reached its descriptor limit (${fds} open)`);
    assert.ok(cpuUsed < 100, `no busy loop at the limit: ${cpuUsed} ticks in 3 s`);
    assert.ok(logLines - logsBefore <= 4, `at most one limit log line a second (${logLines - logsBefore} in 3 s)`);
    assert.ok(logLines >= 1, 'the condition is logged');

    // existing clients keep being served
    const p = nextPublication(sub, 5000);
    const r = await api(server, 'publish', { channel: 'news', data: { at: 'limit' } }, { agent });
    assert.equal(r.status, 200);
    assert.deepEqual((await p).data, { at: 'limit' });

    // descriptors free up: new connections are accepted again
    for (const s of flood) s.destroy();
    await waitUntil(async () => (await request(server, '/health', { timeoutMs: 1000 }).catch(() => ({}))).status === 200, {
      timeoutMs: 5000,
      what: 'a new connection served after the flood left',
    });
    const c2 = newClient(server, { token });
    await connected(c2);
    c2.disconnect();
    c.disconnect();
    agent.destroy();
  });
  await assertCleanExit(server);
});

test('http_server.max_connections answers the excess 503 and serves again below the cap', async () => {
  const cfg = defaultConfig();
  cfg.workers = 2;
  cfg.http_server = { max_connections: 20 };
  const server = await startServer(cfg);
  await withLogsOnFailure(server, async () => {
    const held = [];
    // the health check of startServer is gone; 20 idle connections fill the cap
    for (let i = 0; i < 20; i++) held.push(await tcp(server.port));
    await sleep(200);
    const r = await request(server, '/health', { timeoutMs: 3000 });
    assert.equal(r.status, 503);
    assert.match(r.text, /connection limit/);
    for (const s of held) s.destroy();
    await waitUntil(async () => (await request(server, '/health', { timeoutMs: 1000 }).catch(() => ({}))).status === 200, {
      timeoutMs: 5000,
      what: 'served again below the cap',
    });
  });
  await assertCleanExit(server);
});

test('client.connection_limit: a connection over the limit is disconnected with 3504', async () => {
  const cfg = defaultConfig();
  cfg.client.connection_limit = 2;
  const server = await startServer(cfg);
  await withLogsOnFailure(server, async () => {
    const token = connToken(server.secret, 'u1');
    const a = newClient(server, { token });
    const b = newClient(server, { token });
    await connected(a);
    await connected(b);
    const c = newClient(server, { token });
    const d = await disconnected(c);
    assert.equal(d.code, 3504);
    a.disconnect();
    await sleep(300);
    const e = newClient(server, { token });
    await connected(e); // a place freed up
    for (const x of [b, c, e]) x.disconnect();
  });
  await assertCleanExit(server);
});

test('client.user_connection_limit: a user over the limit on the node is disconnected with 3504', async () => {
  const cfg = defaultConfig();
  cfg.workers = 2;
  cfg.client.user_connection_limit = 2;
  const server = await startServer(cfg);
  await withLogsOnFailure(server, async () => {
    const u1 = connToken(server.secret, 'u1');
    const a = newClient(server, { token: u1 });
    const b = newClient(server, { token: u1 });
    await connected(a);
    await connected(b);
    const c = newClient(server, { token: u1 });
    const d = await disconnected(c);
    assert.equal(d.code, 3504);
    assert.match(server.logs(), /refused connect: .*user=u1.*code=3504/);
    // other users are not affected
    const other = newClient(server, { token: connToken(server.secret, 'u2') });
    await connected(other);
    // a place of u1 frees up
    a.disconnect();
    await sleep(300);
    const e = newClient(server, { token: u1 });
    await connected(e);
    for (const x of [b, c, e, other]) x.disconnect();
  });
  await assertCleanExit(server);
});

test('client.connection_limit bounds emulation sessions (SSE, HTTP-streaming) too', async () => {
  const { newStreamClient } = require('./lib/stream');
  const cfg = defaultConfig();
  cfg.client.connection_limit = 1;
  cfg.sse = { enabled: true };
  cfg.http_stream = { enabled: true };
  const server = await startServer(cfg);
  await withLogsOnFailure(server, async () => {
    const token = connToken(server.secret, 'u1');
    const a = newStreamClient(server, 'sse', { token });
    await connected(a);
    for (const transport of ['sse', 'http_stream']) {
      const b = newStreamClient(server, transport, { token });
      const d = await disconnected(b);
      assert.equal(d.code, 3504, `${transport}: ${JSON.stringify(d)}`);
      b.disconnect();
    }
    a.disconnect();
  });
  await assertCleanExit(server);
});

test('pipelined requests whose answers are never read: reading pauses, memory stays bounded', async () => {
  const server = await startServer(defaultConfig(), MEASURED);
  await withLogsOnFailure(server, async () => {
    const before = rssKb(server.pid);
    const s = await tcp(server.port);
    s.pause(); // never read
    const req = Buffer.from('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    const chunk = Buffer.concat(Array(2000).fill(req)); // 68 KB
    const total = 30 * 1024 * 1024;
    for (let sent = 0; sent < total; sent += chunk.length) s.write(chunk);
    const after = await settledRss(server.pid, 20000);
    report('30 MB of pipelined GET /health never read', before, after);
    assert.ok(after - before < 40 * 1024, `RSS grew by ${after - before} kB`);
    // the server still serves others
    assert.equal((await request(server, '/health')).status, 200);
    s.destroy();
  });
  await assertCleanExit(server);
});

test('WebSocket pings whose pongs are never read: reading pauses, memory stays bounded', async () => {
  const server = await startServer(defaultConfig(), MEASURED);
  await withLogsOnFailure(server, async () => {
    const ws = await tcpWebSocket(server.port);
    const before = rssKb(server.pid);
    ws.socket.pause();
    // the largest control payload: every pong weighs as much as its ping
    const ping = encodeFrame(0x9, Buffer.alloc(125, 0x70));
    const chunk = Buffer.concat(Array(500).fill(ping)); // 65 KB
    const total = 60 * 1024 * 1024;
    for (let sent = 0; sent < total; sent += chunk.length) ws.socket.write(chunk);
    const after = await settledRss(server.pid, 20000);
    report('60 MB of WebSocket pings (125-byte payloads), pongs never read', before, after);
    assert.ok(after - before < 40 * 1024, `RSS grew by ${after - before} kB`);
    assert.equal((await request(server, '/health')).status, 200);
    ws.destroy();
  });
  await assertCleanExit(server);
});

test('WebSocket fragments: too many fragments close 1009, a fragment flood stays bounded', async () => {
  const cfg = defaultConfig();
  cfg.websocket = { max_fragments: 100 };
  const server = await startServer(cfg, MEASURED);
  await withLogsOnFailure(server, async () => {
    // a legitimate fragmented connect command still works
    const ok = await tcpWebSocket(server.port);
    const cmd = JSON.stringify({ id: 1, connect: { token: connToken(server.secret, 'u1') } });
    const parts = [cmd.slice(0, 10), cmd.slice(10, 20), cmd.slice(20)];
    const frag = (opcode, fin, text) => {
      const f = encodeFrame(opcode, text);
      if (!fin) f[0] &= 0x7f;
      return f;
    };
    ok.socket.write(Buffer.concat([frag(0x1, false, parts[0]), frag(0x0, false, parts[1]), frag(0x0, true, parts[2])]));
    assert.ok(await ok.until((m) => m.some((x) => x.type === 'text' && x.text.includes('"connect"')), 5000, 'connect reply'));
    ok.destroy();

    // over max_fragments
    const bad = await tcpWebSocket(server.port);
    const frags = [frag(0x1, false, 'a')];
    for (let i = 0; i < 150; i++) frags.push(frag(0x0, false, 'a'));
    bad.socket.write(Buffer.concat(frags));
    assert.ok(await bad.until((m) => m.some((x) => x.type === 'close'), 5000, 'close frame'));
    assert.equal(bad.messages().find((x) => x.type === 'close').code, 1009);
    bad.destroy();

    // many connections each holding an unfinished message of tiny fragments
    const before = rssKb(server.pid);
    const conns = [];
    for (let i = 0; i < 100; i++) conns.push(await tcpWebSocket(server.port));
    const flood = Buffer.concat([frag(0x1, false, 'a'), ...Array(20000).fill(frag(0x0, false, 'a'))]);
    for (const w of conns) w.socket.write(flood);
    await sleep(2000);
    const after = rssKb(server.pid);
    report(`100 connections x 20,000 one-byte fragments (${((flood.length * 100) / 1048576).toFixed(0)} MB sent)`, before, after);
    assert.ok(after - before < 40 * 1024, `RSS grew by ${after - before} kB`);
    for (const w of conns) w.destroy();
  });
  await assertCleanExit(server);
});

test('the API key and the route are checked when the headers are complete (401/404 before any body)', async () => {
  const server = await startServer(defaultConfig(), MEASURED);
  await withLogsOnFailure(server, async () => {
    for (const [head, status] of [
      ['POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n', 401],
      [`POST /api/publish HTTP/1.1\r\nHost: x\r\nX-API-Key: wrong\r\nContent-Length: 1048576\r\n\r\n`, 401],
      ['POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n', 404],
    ]) {
      const s = await tcp(server.port);
      s.write(head); // the body never comes
      const r = await drain(s, 3000);
      assert.match(r.text, new RegExp(`^HTTP/1.1 ${status} `), `${head.split('\r\n')[0]} → ${r.text.split('\r\n')[0]}`);
      assert.ok(r.ms < 2000, `answered at once (${r.ms} ms)`);
      s.destroy();
    }
    // 1,000 unfinished 1 MiB bodies without a key cost nothing
    const before = rssKb(server.pid);
    const socks = [];
    for (let i = 0; i < 300; i++) {
      const s = await tcp(server.port);
      s.on('error', () => {});
      s.write('POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n');
      s.write(Buffer.alloc(64 * 1024, 0x61));
      socks.push(s);
    }
    await sleep(1000);
    const after = rssKb(server.pid);
    report('300 connections with unfinished 1 MiB API bodies, no key', before, after);
    assert.ok(after - before < 30 * 1024, `RSS grew by ${after - before} kB`);
    for (const s of socks) s.destroy();
    // with the key the request works as before
    assert.equal((await api(server, 'info', {})).status, 200);
  });
  await assertCleanExit(server);
});

test('timeouts: header, body, idle keep-alive and WebSocket handshake', async () => {
  const cfg = defaultConfig();
  cfg.http_server = { read_header_timeout: '1s', read_body_timeout: '1s', idle_timeout: '1s' };
  cfg.websocket = { handshake_timeout: '1s' };
  cfg.client.stale_close_delay = '30s';
  const server = await startServer(cfg);
  await withLogsOnFailure(server, async () => {
    // slow headers: 408, then closed
    let s = await tcp(server.port);
    s.write('GET /health HTTP/1.1\r\nHost: x\r\n');
    let r = await drain(s, 5000);
    assert.match(r.text, /^HTTP\/1.1 408 /);
    assert.ok(r.closed && r.ms >= 900 && r.ms < 4000, `closed after ${r.ms} ms`);

    // a connection that sends nothing at all is closed
    s = await tcp(server.port);
    r = await drain(s, 5000);
    assert.ok(r.closed && r.ms < 4000, `silent connection closed after ${r.ms} ms`);
    assert.equal(r.text, '');

    // slow body: 408
    s = await tcp(server.port);
    s.write(`POST /api/info HTTP/1.1\r\nHost: x\r\nX-API-Key: ${server.apiKey}\r\nContent-Length: 100\r\n\r\n{"a":`);
    r = await drain(s, 5000);
    assert.match(r.text, /^HTTP\/1.1 408 /);
    assert.ok(r.closed && r.ms >= 900 && r.ms < 4000, `closed after ${r.ms} ms`);

    // idle keep-alive: the answer, then the close
    s = await tcp(server.port);
    s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    r = await drain(s, 5000);
    assert.match(r.text, /^HTTP\/1.1 200 /);
    assert.ok(r.closed && r.ms >= 900 && r.ms < 4000, `idle connection closed after ${r.ms} ms`);

    // upgraded, no connect command: closed with the stale code well before stale_close_delay
    const ws = await tcpWebSocket(server.port);
    assert.ok(await ws.until((m) => m.some((x) => x.type === 'close'), 5000, 'close frame'));
    assert.equal(ws.messages().find((x) => x.type === 'close').code, 3502);
    ws.destroy();

    // an active client is not affected by any of them
    const c = newClient(server, { token: connToken(server.secret, 'u1') });
    await connected(c);
    await sleep(2500);
    assert.equal(c.state, 'connected');
    c.disconnect();
  });
  await assertCleanExit(server);
});

test('a second process cannot take the same port', async () => {
  const cfg = defaultConfig();
  cfg.workers = 2;
  const server = await startServer(cfg);
  await withLogsOnFailure(server, async () => {
    const child = spawn(binaryPath(), ['-c', server.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await withTimeout(new Promise((resolve) => child.on('close', resolve)), 10000, 'second process exit');
    assert.notEqual(code, 0);
    assert.match(out, /address already in use/);
    // the first one still answers every connection
    for (let i = 0; i < 20; i++) assert.equal((await request(server, '/health')).status, 200);
  });
  await assertCleanExit(server);
});
