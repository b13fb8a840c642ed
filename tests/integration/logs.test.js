'use strict';
// Logs: one info line per refused connect, subscribe, publish and RPC naming the client, user,
// channel, the step that refused and the code; hints for a backend answering 419, 302 or 401;
// no token, API key, secret or cookie ever in the log (at debug level, the most verbose used);
// a SIGHUP reload that fails never says "reload finished".

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, withLogsOnFailure, assertCleanExit, randomSecret } = require('./lib/server');
const { startBackend } = require('./lib/backend');
const jwt = require('./lib/jwt');
const { api } = require('./lib/api');
const { rawSession, rawCall, rawConnect } = require('./lib/client');
const { waitUntil } = require('./lib/wait');

let server;
let backend;
const cookie = `laravel_session=${randomSecret(20)}`;

before(async () => {
  backend = await startBackend({
    '/csrf': { status: 419, body: 'CSRF token mismatch' },
    '/login': { status: 302, headers: { Location: '/login' }, body: '' },
    '/auth': { status: 401, body: 'unauthenticated' },
  });
  server = await startServer(merge(defaultConfig(), {
    channel: {
      proxy: { subscribe: { endpoint: backend.url('/csrf'), http_headers: ['Cookie'] } },
      namespaces: [
        { name: 'csrf', subscribe_proxy_enabled: true },
        { name: 'login', subscribe_proxy_enabled: true, subscribe_proxy_name: 'login' },
        { name: 'ro', allow_subscribe_for_client: true },
      ],
    },
    proxies: [
      { name: 'login', endpoint: backend.url('/login'), http_headers: ['Cookie'] },
      { name: 'auth', endpoint: backend.url('/auth'), http_headers: ['Cookie'] },
    ],
    rpc: { without_namespace: { proxy_enabled: true, proxy_name: 'auth' } },
  }));
});

after(async () => {
  if (server) await assertCleanExit(server);
});

const lines = () => server.logs().split('\n');
const refusal = (what, pred) => lines().find((l) => l.includes(` info refused ${what}:`) && pred(l));

test('a refused subscribe, publish, connect and RPC each log one info line with who, where, which step and the code', async () => {
  await withLogsOnFailure(server, async () => {
    const token = jwt.connToken(server.secret, 'u-7');
    const raw = await rawSession(server, { token, headers: { Cookie: cookie } });
    // rules: a namespace that does not exist
    const r1 = await rawCall(raw, { subscribe: { channel: 'nope:x' } });
    assert.equal(r1.error.code, 102);
    // proxy: the backend answers 419
    const r2 = await rawCall(raw, { subscribe: { channel: 'csrf:room' } });
    assert.ok(r2.error, JSON.stringify(r2));
    // rules: publishing is not allowed in "ro"
    const r3 = await rawCall(raw, { publish: { channel: 'ro:x', data: { a: 1 } } });
    assert.equal(r3.error.code, 103);
    // proxy: the RPC backend answers 401
    const r4 = await rawCall(raw, { rpc: { method: 'm', data: {} } });
    assert.ok(r4.error, JSON.stringify(r4));
    // token: a connect with a token signed by another key
    const bad = await rawConnect(server);
    bad.send(JSON.stringify({ id: 1, connect: { token: jwt.connToken('another-secret-another-secret-xx', 'u-8') } }));
    await bad.closed.catch(() => {});

    await waitUntil(() => refusal('connect', (l) => l.includes('step=token')), { what: 'the refused connect line' });
    const sub = refusal('subscribe', (l) => l.includes('channel=nope:x'));
    assert.ok(sub, server.logs());
    assert.match(sub, new RegExp(`client=${raw.client} user=u-7 channel=nope:x step=rules code=102`));
    assert.ok(refusal('subscribe', (l) => l.includes('channel=csrf:room') && l.includes('step=proxy')), server.logs());
    assert.ok(refusal('publish', (l) => l.includes('channel=ro:x') && l.includes('step=rules') && l.includes('code=103')), server.logs());
    assert.ok(refusal('rpc', (l) => l.includes('user=u-7') && l.includes('step=proxy')), server.logs());
    raw.close();
  });
});

test('a backend answering 419, 302 or 401 gets a hint in the log', async () => {
  await withLogsOnFailure(server, async () => {
    const raw = await rawSession(server, { token: jwt.connToken(server.secret, 'u-9'), headers: { Cookie: cookie } });
    await rawCall(raw, { subscribe: { channel: 'login:x' } });
    raw.close();
    const text = server.logs();
    assert.match(text, /unexpected status 419 \(Laravel answered 419: the route is behind CSRF protection/);
    assert.match(text, /unexpected status 302 \(a redirect, usually to a login page/);
    assert.match(text, /unexpected status 401 \(the backend refused the request's credentials/);
    // the proxy's own error line names who it was for
    assert.match(text, /proxy subscribe \S+ \(client [0-9a-f-]{36} user "u-9" channel "login:x"\): unexpected status 302/);
  });
});

test('no token, API key, secret or cookie is ever logged', async () => {
  // a few more places where secrets pass: API calls with a wrong key and the right one
  await api(server, 'publish', { channel: 'news', data: {} }, { key: `${server.apiKey}-wrong` });
  await api(server, 'publish', { channel: 'news', data: {} });
  const text = server.logs();
  const tokenRe = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;
  assert.ok(!tokenRe.test(text), `a JWT in the log:\n${text.match(tokenRe)}`);
  assert.ok(!text.includes(server.apiKey), 'the API key is in the log');
  assert.ok(!text.includes(server.secret), 'the HMAC secret is in the log');
  assert.ok(!text.includes(cookie.split('=')[1]), 'the cookie is in the log');
  assert.ok(!text.includes('another-secret'), 'a token key is in the log');
});

test('a SIGHUP reload that fails is reported as failed, never as finished', async () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'lucent-reload-'));
  const script = path.join(dir, 'hooks.lua');
  fs.writeFileSync(script, 'local hooks = {}\nreturn hooks\n');
  const r = await startServer(merge(defaultConfig(), { lua: { script } }));
  try {
    await withLogsOnFailure(r, async () => {
      process.kill(r.pid, 'SIGHUP');
      await waitUntil(() => /lua: reload finished/.test(r.logs()), { what: 'the good reload' });
      fs.writeFileSync(script, 'this is not lua (\n');
      process.kill(r.pid, 'SIGHUP');
      await waitUntil(() => /lua: reload failed on \d+ worker/.test(r.logs()), { what: 'the failed reload' });
      assert.equal(r.logs().match(/lua: reload finished/g).length, 1, r.logs());
    });
  } finally {
    await assertCleanExit(r);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
