'use strict';
// Command line: version, help, genconfig, gentoken, and how configs are loaded (type errors,
// unknown keys, legacy keys, comments, the -c/--config forms).

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { test, after } = require('node:test');
const {
  requireBinary,
  startServer,
  defaultConfig,
  merge,
  assertCleanExit,
  withLogsOnFailure,
  readJsonConfig,
  makeTempDir,
  randomSecret,
} = require('./lib/server');
const jwt = require('./lib/jwt');
const { api } = require('./lib/api');
const { rawSession } = require('./lib/client');

const tmp = makeTempDir();
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SANITIZER = /AddressSanitizer|LeakSanitizer|runtime error:/;

/** Run the binary to completion (killed after timeoutMs). */
function run(args, { timeoutMs = 10000 } = {}) {
  const bin = requireBinary();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const r = { code, signal, stdout, stderr, timedOut };
      if (SANITIZER.test(stdout + stderr)) {
        reject(new Error(`sanitizer report from lucent ${args.join(' ')}:\n${stderr}`));
      } else {
        resolve(r);
      }
    });
  });
}

const show = (r) => `exit ${r.code} signal ${r.signal}${r.timedOut ? ' (timed out)' : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

const JWT_RE = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;

test('lucent version prints a version', async () => {
  const r = await run(['version']);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /\d+\.\d+\.\d+/, show(r));
});

test('lucent --help exits 0 and lists the commands', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0, show(r));
  const out = r.stdout + r.stderr;
  for (const word of ['genconfig', 'gentoken', 'version']) assert.ok(out.includes(word), `help does not mention ${word}\n${show(r)}`);
});

test('lucent genconfig FILE writes a config with fresh secrets', async () => {
  const a = path.join(tmp, 'gen-a.json');
  const b = path.join(tmp, 'gen-b.json');
  for (const f of [a, b]) {
    const r = await run(['genconfig', f]);
    assert.equal(r.code, 0, show(r));
  }
  const ca = readJsonConfig(a);
  const cb = readJsonConfig(b);
  for (const c of [ca, cb]) {
    assert.equal(typeof c.client?.token?.hmac_secret_key, 'string');
    assert.ok(c.client.token.hmac_secret_key.length >= 16, 'hmac_secret_key too short');
    assert.equal(typeof c.http_api?.key, 'string');
    assert.ok(c.http_api.key.length >= 16, 'http_api.key too short');
  }
  assert.notEqual(ca.client.token.hmac_secret_key, cb.client.token.hmac_secret_key, 'secrets are not random');
  assert.notEqual(ca.http_api.key, cb.http_api.key, 'API keys are not random');
});

test('lucent gentoken -c FILE -u 42 prints a token that connects to a server using FILE', async () => {
  const file = path.join(tmp, 'gen-token.json');
  assert.equal((await run(['genconfig', file])).code, 0);
  const r = await run(['gentoken', '-c', file, '-u', '42']);
  assert.equal(r.code, 0, show(r));
  const m = JWT_RE.exec(r.stdout);
  assert.ok(m, `no JWT in output\n${show(r)}`);
  const { header, payload } = jwt.decode(m[0]);
  assert.equal(header.alg, 'HS256');
  assert.equal(payload.sub, '42');

  const srv = await startServer(readJsonConfig(file));
  try {
    await withLogsOnFailure(srv, async () => {
      const raw = await rawSession(srv, { token: m[0] });
      assert.ok(raw.client);
      raw.close();
      await raw.closed;
    });
  } finally {
    await assertCleanExit(srv);
  }
});

test('lucent gentoken --ttl sets exp', async () => {
  const file = path.join(tmp, 'gen-ttl.json');
  assert.equal((await run(['genconfig', file])).code, 0);
  const r = await run(['gentoken', '-c', file, '-u', '7', '--ttl', '120']);
  assert.equal(r.code, 0, show(r));
  const m = JWT_RE.exec(r.stdout);
  assert.ok(m, show(r));
  const { payload } = jwt.decode(m[0]);
  assert.equal(payload.sub, '7');
  assert.ok(Math.abs(payload.exp - (jwt.now() + 120)) <= 5, `exp ${payload.exp}`);
});

test('a wrong type (http_server.port: "x") exits non-zero naming the key', async () => {
  const file = path.join(tmp, 'bad-type.json');
  fs.writeFileSync(file, JSON.stringify(merge(defaultConfig(), { http_server: { port: 'x' } })));
  const r = await run(['-c', file]);
  assert.ok(!r.timedOut, `server started with a bad config\n${show(r)}`);
  assert.notEqual(r.code, 0, show(r));
  assert.match(r.stderr, /http_server\.port/, show(r));
});

test('invalid JSON exits non-zero', async () => {
  const file = path.join(tmp, 'bad-json.json');
  fs.writeFileSync(file, '{"http_server": {"port": 8000,');
  const r = await run(['-c', file]);
  assert.ok(!r.timedOut, show(r));
  assert.notEqual(r.code, 0, show(r));
});

test('a missing config file exits non-zero naming the file', async () => {
  const file = path.join(tmp, 'does-not-exist.json');
  const r = await run(['-c', file]);
  assert.ok(!r.timedOut, show(r));
  assert.notEqual(r.code, 0, show(r));
  assert.ok((r.stdout + r.stderr).includes('does-not-exist.json'), show(r));
});

test('unknown keys are warned about with their path, and the server starts', async () => {
  const srv = await startServer(merge(defaultConfig(), { no_such_key: 1, client: { bogus_option: true } }));
  try {
    await withLogsOnFailure(srv, async () => {
      assert.match(srv.logs(), /no_such_key/);
      assert.match(srv.logs(), /client\.bogus_option/);
      const r = await api(srv, 'publish', { channel: 'news', data: { x: 1 } });
      assert.deepEqual(r.body, { result: {} });
    });
  } finally {
    await assertCleanExit(srv);
  }
});

test('legacy flat keys (api_key, token_hmac_secret_key) work with a warning naming the v6 key', async () => {
  const key = randomSecret();
  const secret = randomSecret();
  const cfg = { api_key: key, token_hmac_secret_key: secret, channel: { without_namespace: { allow_subscribe_for_client: true } } };
  const srv = await startServer(cfg);
  try {
    await withLogsOnFailure(srv, async () => {
      assert.match(srv.logs(), /http_api\.key/);
      assert.match(srv.logs(), /client\.token\.hmac_secret_key/);
      const r = await api(srv, 'publish', { channel: 'news', data: { x: 1 } }, { key });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { result: {} });
      const raw = await rawSession(srv, { token: jwt.connToken(secret, '42'), channels: ['news'] });
      assert.ok(raw.client);
      raw.close();
      await raw.closed;
    });
  } finally {
    await assertCleanExit(srv);
  }
});

test('a config with // and /* */ comments loads', async () => {
  const key = randomSecret();
  const secret = randomSecret();
  const text = (port) => `// Lucent test config
{
  /* where to listen */
  "http_server": {"address": "127.0.0.1", "port": ${port}}, // trailing comment
  "health": {"enabled": true},
  "client": {"token": {"hmac_secret_key": "${secret}"}}, /* a URL in a string stays: */
  "http_api": {"key": "${key}"},
  "channel": {"without_namespace": {"allow_subscribe_for_client": true}},
  "node": {"name": "http://not-a-comment//x"}
}
`;
  const srv = await startServer({}, { configText: text });
  srv.apiKey = key;
  try {
    await withLogsOnFailure(srv, async () => {
      const r = await api(srv, 'publish', { channel: 'news', data: { x: 1 } });
      assert.deepEqual(r.body, { result: {} });
      const info = await api(srv, 'info', {});
      if (info.body.result) assert.equal(info.body.result.nodes[0].name, 'http://not-a-comment//x');
      const raw = await rawSession(srv, { token: jwt.connToken(secret, '42') });
      raw.close();
      await raw.closed;
    });
  } finally {
    await assertCleanExit(srv);
  }
});

for (const form of [(f) => ['--config', f], (f) => [`--config=${f}`]]) {
  const label = form('FILE').join(' ');
  test(`lucent ${label} starts the server`, async () => {
    const srv = await startServer(defaultConfig(), { args: form });
    try {
      await withLogsOnFailure(srv, async () => {
        const r = await api(srv, 'publish', { channel: 'news', data: { x: 1 } });
        assert.deepEqual(r.body, { result: {} });
      });
    } finally {
      await assertCleanExit(srv);
    }
  });
}
