'use strict';
// Nothing accepted silently: recognised-but-unimplemented keys switched on stop start-up naming
// the key; unknown keys get a "did you mean"; checkconfig --strict fails on unknown keys and
// placeholder secrets; checkconfig --print shows the effective config with secrets masked.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { test, after } = require('node:test');
const { requireBinary, defaultConfig, merge, makeTempDir } = require('./lib/server');

const tmp = makeTempDir();
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(args, { timeoutMs = 10000, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(requireBinary(), args, { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
const show = (r) => `exit ${r.code} ${r.signal || ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

let n = 0;
function writeConfig(over) {
  const file = path.join(tmp, `c${n++}.json`);
  fs.writeFileSync(file, JSON.stringify(merge(defaultConfig(), over)));
  return file;
}

const unsupported = [
  [{ broker: { enabled: true } }, 'broker.enabled'],
  [{ http_server: { http3: { enabled: true } } }, 'http_server.http3'],
  [{ client: { token: { user_id_claim: 'x' } } }, 'client.token.user_id_claim'],
  [{ channel: { namespaces: [{ name: 'dd', auto_cache_recover: true }] } }, 'channel.namespaces[0].auto_cache_recover'],
  [{ map_broker: { type: 'postgres' } }, 'map_broker.type'],
  [{ grpc_api: { enabled: true } }, 'grpc_api.enabled'],
  [{ opentelemetry: { enabled: true } }, 'opentelemetry'],
];

test('a recognised but unimplemented key switched on stops start-up and checkconfig, naming it', async () => {
  for (const [over, key] of unsupported) {
    const file = writeConfig(over);
    for (const args of [['-c', file], ['checkconfig', '-c', file]]) {
      const r = await run(args, { timeoutMs: 5000 });
      assert.notEqual(r.code, 0, `${args[0]} ${key}: ${show(r)}`);
      assert.ok(r.stderr.includes(`${key}: not supported`), `${key}: ${show(r)}`);
    }
  }
  // a map namespace without the map mode Centrifugo requires is refused naming it
  const file = writeConfig({ channel: { namespaces: [{ name: 'cursors', subscription_type: 'map' }] } });
  for (const args of [['-c', file], ['checkconfig', '-c', file]]) {
    const r = await run(args, { timeoutMs: 5000 });
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, /namespace "cursors"\): map\.mode is required/, show(r));
  }
  // from the environment as well
  const r = await run(['checkconfig', '-c', writeConfig({})], { env: { CENTRIFUGO_GRPC_API_ENABLED: 'true' } });
  assert.notEqual(r.code, 0, show(r));
  assert.match(r.stderr, /not supported/, show(r));
});

test('switched off, the same keys load; a tuning key only warns', async () => {
  const file = writeConfig({ engine: { type: 'memory' }, http_server: { tls: { enabled: false } }, websocket: { compression: true } });
  const r = await run(['checkconfig', '-c', file]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /warn config: "websocket\.compression" is not applied/, show(r));
});

test('a typo gets a "did you mean"; --strict fails on it, plain checkconfig passes', async () => {
  const file = writeConfig({ client: { token: { hmac_secert_key: 'x' } } });
  const r = await run(['checkconfig', '-c', file]);
  assert.equal(r.code, 0, show(r));
  assert.ok(r.stderr.includes('unknown key "client.token.hmac_secert_key" (ignored); did you mean "client.token.hmac_secret_key"?'), show(r));
  const s = await run(['checkconfig', '--strict', '-c', file]);
  assert.equal(s.code, 1, show(s));
  assert.match(s.stderr, /1 unknown key/, show(s));
});

test('--strict fails on placeholder and short secrets, passes on generated ones', async () => {
  const bad = writeConfig({ http_api: { key: 'change-me-please-change-me-please-1234' }, client: { token: { hmac_secret_key: 'short' } } });
  const r = await run(['checkconfig', '--strict', '-c', bad]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /http_api\.key: a placeholder/, show(r));
  assert.match(r.stderr, /client\.token\.hmac_secret_key: shorter than 32 bytes/, show(r));
  assert.ok(!r.stderr.includes('change-me-please'), 'the secret itself is never printed');
  const good = path.join(tmp, 'generated.json');
  assert.equal((await run(['genconfig', good])).code, 0);
  const g = await run(['checkconfig', '--strict', '-c', good]);
  assert.equal(g.code, 0, show(g));
});

test('--print shows the effective config with secrets masked, --show-secrets unmasked', async () => {
  const file = writeConfig({ http_server: { port: 9123 } });
  const secret = JSON.parse(fs.readFileSync(file, 'utf8')).client.token.hmac_secret_key;
  const r = await run(['checkconfig', '--print', '-c', file], { env: { CENTRIFUGO_CLIENT_PING_INTERVAL: '20s' } });
  assert.equal(r.code, 0, show(r));
  const eff = JSON.parse(r.stdout);
  assert.equal(eff.http_server.port, 9123);
  assert.equal(eff.client.ping_interval, '20s');
  assert.equal(eff.client.token.hmac_secret_key, '***');
  assert.equal(eff.http_api.key, '***');
  assert.ok(!r.stdout.includes(secret));
  const s = await run(['checkconfig', '--show-secrets', '-c', file]);
  assert.equal(JSON.parse(s.stdout).client.token.hmac_secret_key, secret);
});
