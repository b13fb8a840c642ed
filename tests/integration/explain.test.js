'use strict';
// Prototyping permissions: `lucent explain` runs the real decision pipeline once (Lua script,
// tokens, a real Node backend behind the proxies, namespace and channels rules) and prints
// each step and the client's answer, with exit 0 allow / 1 refused / 2 error; `lucent routes`
// lists the lucent.rules routes and the channels rules; log.trace_users logs the same trace
// for a running server's named users.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { test, before, after } = require('node:test');
const { requireBinary, startServer, stopServer, defaultConfig, merge, makeTempDir, randomSecret } = require('./lib/server');
const { startBackend } = require('./lib/backend');
const jwt = require('./lib/jwt');
const { rawSession, rawCall } = require('./lib/client');

const SANITIZER = /AddressSanitizer|LeakSanitizer|runtime error:/;
const tmp = makeTempDir();
const secret = randomSecret();
let backend;

const RULES = `local rules = require "lucent.rules"
local r = rules.new()
r:subscribe("orders.{id}", function(ctx, id)
    return ctx.user == "42"
end)
r:subscribe("chat:*", function(ctx) return nil end)
r:rpc("time", function(ctx, data) return {data = {now = 1}} end)
return r:hooks()
`;

function run(args, { timeoutMs = 10000 } = {}) {
  const bin = requireBinary();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (SANITIZER.test(stdout + stderr)) reject(new Error(`sanitizer report:\n${stderr}`));
      else resolve({ code, signal, stdout, stderr });
    });
  });
}

const show = (r) => `exit ${r.code} signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
const reply = (r) => JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('reply: ')).slice(7));
const explain = (...args) => run(['explain', '-c', 'config.json', ...args]);

before(async () => {
  backend = await startBackend({
    // the subscribe proxy allows user 42 and refuses everyone else
    '/subscribe': (r) => (r.json.user === '42' ? { json: { result: {} } }
      : r.json.user === 'boom' ? { status: 500, json: {} }
        : { json: { error: { code: 103, message: 'not yours' } } }),
    // the refresh proxies prolong user 42 by ten minutes and end everyone else
    '/refresh': (r) => ({ json: { result: r.json.user === '42' ? { expire_at: Math.floor(Date.now() / 1000) + 600 } : { expired: true } } }),
    '/sub_refresh': (r) => ({ json: { result: r.json.user === '42' ? { expire_at: Math.floor(Date.now() / 1000) + 600 } : { expired: true } } }),
  });
  const config = {
    client: { token: { hmac_secret_key: secret }, proxy: { refresh: { enabled: true, endpoint: backend.url('/refresh') } } },
    lua: { script: 'rules.lua' },
    channel: {
      without_namespace: { allow_subscribe_for_client: false },
      proxy: { subscribe: { endpoint: backend.url('/subscribe') }, sub_refresh: { endpoint: backend.url('/sub_refresh') } },
      namespaces: [
        { name: 'chat', allow_subscribe_for_client: true, allow_publish_for_subscriber: true },
        { name: 'sp', subscribe_proxy_enabled: true, sub_refresh_proxy_enabled: true },
      ],
    },
    channels: [{ name: 'orders.{id}', subscribe: false, presence: true }],
  };
  fs.writeFileSync(path.join(tmp, 'config.json'), JSON.stringify(config));
  fs.writeFileSync(path.join(tmp, 'rules.lua'), RULES);
});

after(async () => {
  if (backend) await backend.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('token: a connection token for --user allows connect; no credentials is disconnect 3501', async () => {
  let r = await explain('--user', '42', 'connect');
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^token: connection token valid: sub "42"/m, show(r));
  assert.match(r.stdout, /^outcome: allow by token as user "42"/m);
  assert.equal(reply(r).connect.client, 'explain');

  r = await explain('connect');
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, /^token: no connection token/m);
  assert.match(r.stdout, /^rules: no credentials: client.insecure 0/m);
  assert.deepEqual(reply(r), { disconnect: { code: 3501, reason: 'bad request' } });
});

test('token: --claims signs a subscription token; a private channel without one is refused', async () => {
  let r = await explain('--user', '42', '--claims', '{"info":{"a":1}}', 'subscribe', '$chat:secret');
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^token: subscription token valid: channel \$chat:secret, sub "42"/m, show(r));
  assert.match(r.stdout, /^outcome: allow by token$/m);

  r = await explain('--user', '42', 'subscribe', '$chat:secret');
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, /^token: private channel \(prefix "\$"\) without a subscription token/m);
  assert.deepEqual(reply(r), { id: 1, error: { code: 103, message: 'permission denied' } });
});

test('Lua: the lucent.rules route that matched is named with its handler file:line', async () => {
  let r = await explain('--user', '42', 'subscribe', 'orders.1');
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^lua: lucent.rules subscribe route "orders.\{id\}" matched \(handler rules.lua:3\), \{id\} = "1"$/m, show(r));
  assert.match(r.stdout, /^outcome: allow by lua$/m);
  // the `channels` rule that applies, by its place in the list and its pattern
  assert.match(r.stdout, /^rules: channels rule 1 "orders.\{id\}" matched: presence=true, allow_subscribe_for_client=false$/m, show(r));

  r = await explain('--user', '7', 'subscribe', 'orders.1');
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, /^lua: hook answered false \(deny\)/m);
  assert.match(r.stdout, /^outcome: error 103 "permission denied" by lua/m);

  r = await explain('--user', '7', 'rpc', 'time', '{}');
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /route "time" matched \(handler rules.lua:7\)$/m);
  assert.deepEqual(reply(r), { id: 1, rpc: { data: { now: 1 } } });
});

test('proxy: the real backend is called (URL, time, answer); --no-proxy leaves it out', async () => {
  const before = backend.calls('/subscribe').length;
  let r = await explain('--user', '42', 'subscribe', 'sp:1');
  assert.equal(r.code, 0, show(r));
  assert.ok(r.stdout.includes(`proxy: POST ${backend.url('/subscribe')} (proxy "default"`), show(r));
  assert.ok(r.stdout.includes(`proxy: ${backend.url('/subscribe')} answered HTTP 200 in `), show(r));
  assert.match(r.stdout, /^proxy: \S+ answered HTTP 200 in [0-9.]+ ms: result 0$/m);
  assert.match(r.stdout, /^outcome: allow by proxy$/m);

  r = await explain('--user', '7', 'subscribe', 'sp:1');
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, /^proxy: \S+ answered HTTP 200 in [0-9.]+ ms: error 103 not yours/m, show(r));
  assert.deepEqual(reply(r), { id: 1, error: { code: 103, message: 'not yours' } });
  assert.equal(backend.calls('/subscribe').length, before + 2);

  // a backend failing: its status and time, and exit 2 (no decision)
  r = await explain('--user', 'boom', 'subscribe', 'sp:1');
  assert.equal(r.code, 2, show(r));
  assert.match(r.stdout, /^proxy: \S+\/subscribe answered HTTP 500 in [0-9.]+ ms: not usable/m, show(r));
  assert.equal(backend.calls('/subscribe').length, before + 3);

  r = await explain('--user', '42', '--no-proxy', 'subscribe', 'sp:1');
  assert.equal(r.code, 1, show(r));
  assert.doesNotMatch(r.stdout, /^proxy:/m);
  assert.match(r.stdout, /^rules: namespace sp: allow_subscribe_for_client 0/m);
  assert.equal(backend.calls('/subscribe').length, before + 3);
});

test('refresh and sub_refresh: the token of the user, as the client would refresh', async () => {
  let r = await explain('--user', '42', 'refresh');
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^token: refresh token valid, sub "42"$/m, show(r));
  assert.equal(reply(r).refresh.expires, true);

  r = await explain('--user', '42', '--claims', '{"sub":"7"}', 'refresh');
  assert.equal(r.code, 1, show(r));
  assert.deepEqual(reply(r), { disconnect: { code: 3500, reason: 'invalid token' } });

  r = await explain('--user', '42', 'sub_refresh', 'chat:1');
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^token: subscription token valid: channel chat:1, sub "42"/m, show(r));
  assert.equal(reply(r).sub_refresh.expires, true);

  r = await explain('--user', '42', '--claims', '{"channel":"chat:2"}', 'sub_refresh', 'chat:1');
  assert.equal(r.code, 1, show(r));
  assert.equal(reply(r).disconnect.code, 3500);
});

test('--at-expiry: the refresh proxies decide as when an expiry passes; what the client then sees', async () => {
  let r = await explain('--user', '42', '--at-expiry', 'refresh');
  assert.equal(r.code, 0, show(r));
  assert.ok(r.stdout.includes(`proxy: ${backend.url('/refresh')} answered HTTP 200 in `), show(r));
  assert.match(r.stdout, /^reply: \(nothing sent: the connection now expires in 60\d s\)$/m, show(r));

  r = await explain('--user', '7', '--at-expiry', 'refresh');
  assert.equal(r.code, 1, show(r));
  assert.deepEqual(reply(r), { disconnect: { code: 3005, reason: 'connection expired' } });

  r = await explain('--user', '42', '--at-expiry', 'sub_refresh', 'sp:1');
  assert.equal(r.code, 0, show(r));
  assert.ok(r.stdout.includes(`proxy: ${backend.url('/sub_refresh')} answered HTTP 200 in `), show(r));
  assert.match(r.stdout, /^reply: \(nothing sent: the subscription now expires in 60\d s\)$/m, show(r));

  r = await explain('--user', '7', '--at-expiry', 'sub_refresh', 'sp:1');
  assert.equal(r.code, 1, show(r));
  assert.deepEqual(reply(r), { push: { channel: 'sp:1', unsubscribe: { code: 2501, reason: 'subscription expired' } } });

  // a namespace without a sub_refresh proxy has nothing to ask
  r = await explain('--user', '42', '--at-expiry', 'sub_refresh', 'chat:1');
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /no sub_refresh proxy/);
});

test('namespace rules: allow and deny with the options applied', async () => {
  let r = await explain('--user', '7', 'subscribe', 'chat:1');
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^rules: no channels rule matched \(1 rule\)$/m, show(r));
  assert.match(r.stdout, /^lua: hook answered nil \(no opinion\)/m);
  assert.match(r.stdout, /^rules: namespace chat: allow_subscribe_for_client 1/m);
  assert.deepEqual(reply(r), { id: 1, subscribe: {} });

  r = await explain('--user', '7', 'publish', 'chat:1', '{"text":"hi"}');
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, /allow_publish_for_subscriber 1 \(subscribed 0\)/);
  r = await explain('--user', '7', '--subscribed', 'publish', 'chat:1', '{"text":"hi"}');
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(reply(r), { id: 1, publish: {} });

  r = await explain('--user', '7', 'subscribe', 'nowhere:1');
  assert.equal(r.code, 1, show(r));
  assert.equal(reply(r).error.code, 102);
});

test('exit 2: bad arguments, bad config, broken script', async () => {
  let r = await explain('--user', '7', 'subscribe');
  assert.equal(r.code, 2, show(r));
  r = await explain('--user', '7', 'publish', 'chat:1', '{not json');
  assert.equal(r.code, 2, show(r));
  r = await run(['explain', '-c', 'missing.json', 'connect']);
  assert.equal(r.code, 2, show(r));
  fs.writeFileSync(path.join(tmp, 'broken.lua'), 'return {subscribe = function(ctx) return true end\n');
  fs.writeFileSync(path.join(tmp, 'broken.json'), JSON.stringify({ lua: { script: 'broken.lua' } }));
  r = await run(['explain', '-c', 'broken.json', 'connect']);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /broken.lua:\d+/);
});

test('lucent routes lists the lucent.rules routes and channels rules in match order', async () => {
  const r = await run(['routes', '-c', 'config.json']);
  assert.equal(r.code, 0, show(r));
  const lines = r.stdout.split('\n');
  const at = (re) => lines.findIndex((l) => re.test(l));
  const a = at(/^\s+subscribe\s+orders.\{id\}\s+rules.lua:3$/);
  const b = at(/^\s+subscribe\s+chat:\*\s+rules.lua:6$/);
  const c = at(/^\s+rpc\s+time\s+rules.lua:7$/);
  assert.ok(a > 0 && b > a && c > b, show(r));
  assert.match(r.stdout, /^\s+1\s+orders.\{id\}\s+presence=true, allow_subscribe_for_client=false$/m, show(r));
  assert.match(r.stdout, /^namespaces: chat, sp$/m);
});

test('log.trace_users: the decisions of a named user are traced at info, others are not', async () => {
  const cfg = merge(defaultConfig({ secret }), { log: { trace_users: ['42'] } });
  const server = await startServer(cfg);
  try {
    const traced = await rawSession(server, { token: jwt.connToken(secret, '42') });
    const other = await rawSession(server, { token: jwt.connToken(secret, '7') });
    assert.ok((await rawCall(traced, { subscribe: { channel: 'chat:a' } })).subscribe);
    assert.ok((await rawCall(other, { subscribe: { channel: 'chat:b' } })).subscribe);
    traced.close();
    other.close();
  } finally {
    const res = await stopServer(server);
    const logs = res.logs;
    assert.match(logs, /trace connect client \S+ user "": token: connection token valid: sub "42"/, logs);
    assert.match(logs, /trace subscribe client \S+ user "42" channel chat:a: rules: namespace chat: allow_subscribe_for_client 1/, logs);
    assert.match(logs, /trace subscribe client \S+ user "42" channel chat:a: outcome: allow by rules/, logs);
    assert.doesNotMatch(logs, /chat:b: /);
    assert.doesNotMatch(logs, /sub "7"/);
  }
});

test('lua.watch: an edit reloads the script and logs the routes changed; a broken edit keeps the old hooks', async () => {
  const { waitUntil } = require('./lib/wait');
  const cfg = merge(defaultConfig({ secret }), { lua: { script: 'rules.lua', watch: true }, channels: [] });
  const server = await startServer(cfg, { files: { 'rules.lua': RULES } });
  const count = (re) => (server.logs().match(re) || []).length;
  const subscribe = async (ch) => {
    const raw = await rawSession(server, { token: jwt.connToken(secret, '7') });
    try {
      return await rawCall(raw, { subscribe: { channel: ch } });
    } finally {
      raw.close();
    }
  };
  try {
    assert.equal((await subscribe('orders.1')).error?.code, 103);
    // an edit: orders.{id} now lets everyone in, and a new route appears
    const edited = RULES.replace('return ctx.user == "42"', 'return true').replace('r:rpc("time"', 'r:subscribe("room:{id}", function(ctx, id) return true end)\nr:rpc("time"');
    fs.writeFileSync(path.join(server.dir, 'rules.lua'), edited);
    await waitUntil(() => count(/lua: reload finished/g) >= 1, { what: 'the reload', timeoutMs: 5000 });
    assert.match(server.logs(), /lua: route added: subscribe room:\{id\}/);
    assert.ok((await subscribe('orders.1')).subscribe, server.logs());

    // a broken edit: the error names file:line and the edited hooks stay
    fs.writeFileSync(path.join(server.dir, 'rules.lua'), 'local rules = require "lucent.rules"\nreturn {subscribe = function(ctx) return false end\n');
    await waitUntil(() => /lua: reload failed on \d+ worker/.test(server.logs()), { what: 'the failed reload', timeoutMs: 5000 });
    assert.match(server.logs(), /lua reload failed, keeping the previous hooks: \S*rules.lua:\d+:/);
    assert.ok((await subscribe('orders.1')).subscribe, server.logs());
  } finally {
    await stopServer(server);
  }
});
