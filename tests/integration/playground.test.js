'use strict';
// The admin UI's playground (POST /admin/api/playground and its page) in headless Chromium: a
// logged-in operator runs a subscribe through the running server's Lua route, which asks a
// real Node backend over the subscribe proxy, and sees each step (route and captures, proxy
// URL, HTTP status and time, the channels rule) and the reply the client would get; allowed
// and denied; --no-proxy; the API refuses callers without a session (401) and bad input (400).

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, withLogsOnFailure, assertCleanExit, randomSecret } = require('./lib/server');
const { startBackend } = require('./lib/backend');
const { request } = require('./lib/api');
const { launch, screenshot } = require('./lib/browser');

const password = randomSecret(16);
const secret = randomSecret(32);
let server;
let backend;
let browser;
let cookie;

// The route asks the backend: the answer decides (user 42 may, anyone else may not).
const RULES = `local rules = require "lucent.rules"
local r = rules.new()
r:subscribe("orders.{id}", function(ctx, id)
    return lucent.proxy("subscribe", ctx)
end)
return r:hooks()
`;

let cfg;

before(async () => {
  backend = await startBackend({
    '/subscribe': (r) => (r.json.user === '42' ? { json: { result: {} } }
      : r.json.user === 'slow' ? { delayMs: 800, json: { result: {} } }
        : { json: { error: { code: 103, message: 'not yours' } } }),
  });
  cfg = merge(defaultConfig({ secret }), {
    admin: { enabled: true, password, secret: randomSecret(32) },
    lua: { script: 'rules.lua' },
    channel: { proxy: { subscribe: { endpoint: backend.url('/subscribe') } } },
    channels: [{ name: 'orders.{id}', presence: true }],
  });
  server = await startServer(cfg, { files: { 'rules.lua': RULES } });
  const login = await request(server, '/admin/login', { method: 'POST', body: { password } });
  assert.equal(login.status, 200);
  cookie = login.headers['set-cookie'][0].split(';')[0];
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await assertCleanExit(server);
  if (backend) await backend.close();
});

const play = (body, headers = { Cookie: cookie, 'X-Lucent-Admin': '1' }, timeoutMs = 10000) =>
  request(server, '/admin/api/playground', { method: 'POST', headers, body, timeoutMs });

test('the page: an allowed and a denied subscribe through a Lua route and a real proxy', async () => {
  await withLogsOnFailure(server, async () => {
    const page = await browser.ctx.newPage();
    await page.goto(`${server.url}/admin/`);
    await page.fill('#password', password);
    await page.click('#login-form button');
    await page.waitForSelector('#num-clients');
    await page.click('a[href="#/playground"]');
    await page.waitForSelector('#pg-form');

    const before = backend.calls('/subscribe').length;
    await page.fill('#pg-user', '42');
    await page.fill('#pg-command', 'subscribe orders.1');
    await page.click('#pg-form button[type=submit]');
    await page.waitForSelector('#pg-verdict:text("allowed")');
    let trace = await page.textContent('#pg-trace');
    assert.match(trace, /^channel: orders\.1 in namespace \(channel\.without_namespace\)$/m, trace);
    assert.match(trace, /^rules: channels rule 1 "orders\.\{id\}" matched: presence=true$/m, trace);
    assert.match(trace, /^lua: lucent\.rules subscribe route "orders\.\{id\}" matched \(handler \S*rules\.lua:3\), \{id\} = "1"$/m, trace);
    assert.ok(trace.includes(`lua: lucent.proxy subscribe: POST ${backend.url('/subscribe')}`), trace);
    assert.ok(trace.includes(`lua: lucent.proxy: ${backend.url('/subscribe')} answered HTTP 200 in `), trace);
    assert.match(trace, /answered HTTP 200 in [0-9.]+ ms: result 0$/m, trace);
    assert.match(trace, /^outcome: allow by lua$/m, trace);
    assert.deepEqual(JSON.parse(await page.textContent('#pg-reply')), { id: 1, subscribe: {} });
    await screenshot(page, 'admin-playground-allowed');

    await page.fill('#pg-user', '7');
    await page.click('#pg-form button[type=submit]');
    await page.waitForSelector('#pg-verdict:text("refused")');
    trace = await page.textContent('#pg-trace');
    assert.match(trace, /answered HTTP 200 in [0-9.]+ ms: error 103 not yours$/m, trace);
    assert.match(trace, /^outcome: error 103 "not yours" by lua$/m, trace);
    assert.deepEqual(JSON.parse(await page.textContent('#pg-reply')), { id: 1, error: { code: 103, message: 'not yours' } });
    assert.equal(backend.calls('/subscribe').length, before + 2);
    await screenshot(page, 'admin-playground-denied');

    // no proxy: the route's lucent.proxy asks nobody and answers nil (the route has no
    // opinion), so user 7 gets what the namespace options say
    await page.check('#pg-no-proxy');
    await page.click('#pg-form button[type=submit]');
    await page.waitForSelector('#pg-verdict:text("allowed")');
    trace = await page.textContent('#pg-trace');
    assert.match(trace, /^lua: lucent\.proxy subscribe: skipped \(no-proxy\)$/m, trace);
    assert.match(trace, /^lua: hook answered nil \(no opinion\)$/m, trace);
    assert.match(trace, /^rules: namespace \(none\): allow_subscribe_for_client 1/m, trace);
    assert.equal(backend.calls('/subscribe').length, before + 2);

    // bad input is shown, not run
    await page.uncheck('#pg-no-proxy');
    await page.fill('#pg-command', 'subscribe');
    await page.click('#pg-form button[type=submit]');
    await page.waitForSelector('#pg-error:text("command: expected subscribe CHANNEL")');
    await page.close();
  });
});

test('the endpoint: other kinds, claims, and the answer as the client gets it', async () => {
  let r = await play({ command: 'connect', claims: { sub: '99', info: { name: 'Ann' } } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.result.allowed, true);
  assert.equal(r.body.result.user, '99');
  assert.match(r.body.result.trace.join('\n'), /^token: connection token valid: sub "99"/m);
  assert.equal(r.body.result.reply.connect.client, 'playground');

  r = await play({ command: 'refresh', user: '42' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.result.exit_code, 0);
  assert.equal(r.body.result.reply.refresh.expires, true);

  r = await play({ command: 'sub_refresh', target: 'orders.1', user: '42' });
  assert.equal(r.status, 200, r.text);
  assert.match(r.body.result.trace.join('\n'), /^token: subscription token valid: channel orders\.1, sub "42"/m);
  assert.equal(r.body.result.reply.sub_refresh.expires, true);

  r = await play({ command: 'subscribe', target: 'nowhere:1', user: '42' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.result.exit_code, 1);
  assert.deepEqual(r.body.result.reply, { id: 1, error: { code: 102, message: 'unknown channel' } });
});

test('the endpoint refuses callers without a session (401) and bad input (400 with a message)', async () => {
  let r = await play({ command: 'connect' }, { 'X-Lucent-Admin': '1' });
  assert.equal(r.status, 401);
  r = await play({ command: 'connect' }, { Cookie: cookie });
  assert.equal(r.status, 403);

  const bad = [
    [{}, /command: required/],
    [{ command: 'fly' }, /command: expected connect, refresh/],
    [{ command: 'subscribe' }, /command: expected subscribe CHANNEL/],
    [{ command: 'publish', target: 'chat:1' }, /command: expected publish CHANNEL DATA/],
    [{ command: 'connect', user: 'u'.repeat(300) }, /user: longer than 256 bytes/],
    [{ command: 'connect', user: 42 }, /user: expected a string/],
    [{ command: 'connect', claims: [1] }, /claims: expected a JSON object/],
    [{ command: 'connect', no_proxy: 'yes' }, /no_proxy: expected true or false/],
    [{ command: 'refresh', user: '42', at_expiry: true }, /at expiry: no refresh proxy/],
    [{ command: 'rpc', target: 'x', data: 'd'.repeat(70000) }, /data: longer than 65536 bytes/],
    ['not json', /body/],
  ];
  for (const [body, re] of bad) {
    r = await play(body);
    assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
    assert.match(r.body.error.message, re);
  }
});

test('a caller that leaves while the backend is slow cancels the run; the server carries on', async () => {
  const before = backend.calls('/subscribe').length;
  await assert.rejects(play({ command: 'subscribe', target: 'orders.1', user: 'slow' }, { Cookie: cookie, 'X-Lucent-Admin': '1' }, 150), /timed out/);
  await new Promise((resolve) => setTimeout(resolve, 900)); // the backend has answered by now
  assert.equal(backend.calls('/subscribe').length, before + 1);
  const r = await play({ command: 'subscribe', target: 'orders.1', user: '42' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.result.allowed, true);
  // leaks or a late callback into the freed request would show at exit (ASan, assertCleanExit)
});

test('explained decisions are no client\'s: no refusal lines in the log', async () => {
  const r = await play({ command: 'subscribe', target: 'orders.1', user: '7' });
  assert.equal(r.body.result.exit_code, 1);
  assert.doesNotMatch(server.logs(), /refused \w+: client=playground/);
});

test('a server stopping while a run waits for the backend ends cleanly', async () => {
  const other = await startServer(cfg, { files: { 'rules.lua': RULES } });
  const login = await request(other, '/admin/login', { method: 'POST', body: { password } });
  const c = login.headers['set-cookie'][0].split(';')[0];
  const pending = request(other, '/admin/api/playground', {
    method: 'POST', headers: { Cookie: c, 'X-Lucent-Admin': '1' }, body: { command: 'subscribe', target: 'orders.1', user: 'slow' },
  }).catch((e) => e);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await assertCleanExit(other); // no leak, no late callback, no 10 s wait for the bound
  await pending;
});
