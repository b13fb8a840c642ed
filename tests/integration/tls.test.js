'use strict';
// http_server.tls (issue 12): every endpoint over TLS with a self-signed certificate made here
// by the openssl CLI, checked with curl --cacert and the official centrifuge client over wss://
// (Node `ws` trusting the test CA). Missing files, a key that does not fit and tls_autocert
// stop start-up (and checkconfig) with a message naming the file or key.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFile, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { Centrifuge } = require('centrifuge');
const WebSocket = require('ws');
const { startServer, defaultConfig, assertCleanExit, withLogsOnFailure, binaryPath } = require('./lib/server');
const { connToken } = require('./lib/jwt');
const { withTimeout, sleep } = require('./lib/wait');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lucent-tls-'));
const cert = path.join(dir, 'cert.pem');
const key = path.join(dir, 'key.pem');
execFileSync('openssl', [
  'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
  '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
  '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
], { stdio: 'ignore' });
const ca = fs.readFileSync(cert);
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function tlsConfig(extra = {}) {
  const cfg = defaultConfig();
  cfg.workers = 2;
  cfg.http_server = { tls: { enabled: true, cert_pem: cert, key_pem: key, ...extra } };
  return cfg;
}

/** curl with the test CA; resolves {code, out} (exit code and output). */
function curl(args) {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '5', '--cacert', cert, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, out: stdout + stderr });
    });
  });
}

function runLucent(args) {
  return new Promise((resolve) => {
    execFile(binaryPath(), args, { timeout: 10000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, out: stdout + stderr });
    });
  });
}

test('health and the server API over https with curl --cacert', async () => {
  const server = await startServer(tlsConfig());
  await withLogsOnFailure(server, async () => {
    let r = await curl(['-w', ' %{http_code}', `https://localhost:${server.port}/health`]);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out, '{} 200');
    r = await curl(['-X', 'POST', '-H', `X-API-Key: ${server.apiKey}`, '-d', '{"channel":"news","data":{"a":1}}', `https://localhost:${server.port}/api/publish`]);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(JSON.parse(r.out), { result: {} });
    // without the CA the certificate is refused by curl: it really is TLS with our certificate
    r = await new Promise((resolve) => execFile('curl', ['-sS', '--max-time', '5', `https://localhost:${server.port}/health`], (err) => resolve(err ? err.code : 0)));
    assert.notEqual(r, 0);
    // plain HTTP on the TLS port gets nowhere, and the server goes on
    const s = net.connect({ host: '127.0.0.1', port: server.port });
    s.on('error', () => {});
    s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    const text = await new Promise((resolve) => {
      let t = '';
      s.on('data', (d) => (t += d));
      s.on('close', () => resolve(t));
      setTimeout(() => {
        s.destroy();
        resolve(t);
      }, 3000);
    });
    assert.doesNotMatch(text, /HTTP\/1.1 200/);
    r = await curl([`https://localhost:${server.port}/health`]);
    assert.equal(r.out, '{}');
  });
  await assertCleanExit(server);
});

test('the official centrifuge client over wss:// with the test CA: connect, subscribe, publish', async () => {
  const server = await startServer(tlsConfig());
  await withLogsOnFailure(server, async () => {
    class CaWebSocket extends WebSocket {
      constructor(url, protocols) {
        super(url, protocols, { ca });
      }
    }
    const c = new Centrifuge(`wss://localhost:${server.port}/connection/websocket`, {
      websocket: CaWebSocket,
      token: connToken(server.secret, 'u1'),
      minReconnectDelay: 100,
      maxReconnectDelay: 1000,
    });
    const connectedP = new Promise((resolve, reject) => {
      c.once('connected', resolve);
      c.once('disconnected', (ctx) => reject(new Error(`disconnected ${ctx.code} ${ctx.reason}`)));
    });
    c.connect();
    const ctx = await withTimeout(connectedP, 5000, 'wss connect');
    assert.equal(ctx.transport, 'websocket');
    const sub = c.newSubscription('news');
    const pub = new Promise((resolve) => sub.on('publication', (p) => resolve(p.data)));
    sub.subscribe();
    await withTimeout(new Promise((resolve) => sub.once('subscribed', resolve)), 5000, 'subscribed');
    // a large publication crosses several TLS records
    const big = 'x'.repeat(50000);
    const r = await curl(['-X', 'POST', '-H', `X-API-Key: ${server.apiKey}`, '-d', JSON.stringify({ channel: 'news', data: { big } }), `https://localhost:${server.port}/api/publish`]);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(await withTimeout(pub, 5000, 'publication'), { big });
    // a client RPC round trip through TLS both ways
    const p2 = await c.publish('news', { n: 2 }).catch((e) => e);
    assert.ok(p2 && p2.code === 103, `client publish answered: ${JSON.stringify(p2)}`);
    c.disconnect();
  });
  await assertCleanExit(server);
});

test('http_server.tls.min_version 1.3 refuses TLS 1.2; the default accepts it', async () => {
  const server = await startServer(tlsConfig({ min_version: '1.3' }));
  await withLogsOnFailure(server, async () => {
    let r = await curl(['--tls-max', '1.2', `https://localhost:${server.port}/health`]);
    assert.notEqual(r.code, 0, r.out);
    r = await curl(['--tlsv1.3', `https://localhost:${server.port}/health`]);
    assert.equal(r.out, '{}');
  });
  await assertCleanExit(server);
  const server2 = await startServer(tlsConfig());
  const r = await curl(['--tls-max', '1.2', `https://localhost:${server2.port}/health`]);
  assert.equal(r.out, '{}');
  await assertCleanExit(server2);
});

test('missing or unusable certificate files and tls_autocert stop start-up and checkconfig', async () => {
  const cases = [
    [{ http_server: { port: 1, tls: { enabled: true, cert_pem: path.join(dir, 'nope.pem'), key_pem: key } } }, /nope\.pem/],
    [{ http_server: { port: 1, tls: { enabled: true, cert_pem: cert, key_pem: path.join(dir, 'nokey.pem') } } }, /nokey\.pem/],
    [{ http_server: { port: 1, tls: { enabled: true, cert_pem: cert } } }, /key_pem/],
    [{ http_server: { port: 1, tls_autocert: { enabled: true } } }, /tls_autocert.*not supported/],
  ];
  for (const [cfg, re] of cases) {
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, JSON.stringify({ ...defaultConfig(), ...cfg }));
    const check = await runLucent(['checkconfig', '-c', file]);
    assert.notEqual(check.code, 0, check.out);
    assert.match(check.out, re);
    const run = await runLucent(['-c', file]);
    assert.notEqual(run.code, 0, run.out);
    assert.match(run.out, re);
  }
  // a file that exists but holds no certificate: start-up names it
  const junk = path.join(dir, 'junk.pem');
  fs.writeFileSync(junk, 'not a certificate\n');
  const file = path.join(dir, 'junk.json');
  fs.writeFileSync(file, JSON.stringify({ ...defaultConfig(), http_server: { port: 0, tls: { enabled: true, cert_pem: junk, key_pem: key } } }));
  const run = await runLucent(['-c', file]);
  assert.notEqual(run.code, 0);
  assert.match(run.out, /junk\.pem/);
});

test('many idle TLS WebSocket connections: memory per connection', async () => {
  // AddressSanitizer's quarantine of freed memory would be counted: keep it small
  const env = { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || 'detect_leaks=1'}:quarantine_size_mb=4:thread_local_quarantine_size_kb=64` };
  const server = await startServer({ ...tlsConfig(), log: { level: 'info' } }, { env });
  await withLogsOnFailure(server, async () => {
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]);
    const before = rss();
    const conns = [];
    for (let i = 0; i < 200; i++) {
      const ws = new WebSocket(`wss://localhost:${server.port}/connection/websocket`, { ca });
      await withTimeout(new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      }), 5000, 'wss open');
      ws.send(JSON.stringify({ id: 1, connect: { token: connToken(server.secret, `u${i}`) } }));
      conns.push(ws);
    }
    await sleep(1000);
    const after = rss();
    console.log(`# 200 idle TLS WebSocket connections: RSS ${(before / 1024).toFixed(1)} MB -> ${(after / 1024).toFixed(1)} MB (${((after - before) / 200).toFixed(1)} kB each)`);
    assert.ok((after - before) / 200 < 200, 'bounded memory per TLS connection');
    for (const ws of conns) ws.terminate();
  });
  await assertCleanExit(server);
});
