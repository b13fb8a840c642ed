'use strict';
// The admin web UI (admin.enabled) end to end in headless Chromium: log in, read the overview,
// open a channel, publish through the form and see the publication in the live tail, list a
// user's connections and disconnect one; a phone-sized viewport; the login limit; secrets never
// logged. Screenshots are saved under tests/integration/screenshots/.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, withLogsOnFailure, assertCleanExit, randomSecret } = require('./lib/server');
const jwt = require('./lib/jwt');
const { request } = require('./lib/api');
const { rawSession } = require('./lib/client');
const { launch, screenshot } = require('./lib/browser');

const password = randomSecret(16);
const secret = randomSecret(32);
let server;
let browser;

before(async () => {
  // The live tail connects like a client: the admin page's own origin must be allowed, and it
  // is known once the port is.
  const base = merge(defaultConfig(), { admin: { enabled: true, password, secret }, health: { enabled: true }, log: { level: 'debug' } });
  server = await startServer(base, {
    configText: (port) => JSON.stringify(merge(base, { http_server: { address: '127.0.0.1', port }, client: { allowed_origins: [`http://127.0.0.1:${port}`] } })),
  });
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await assertCleanExit(server);
});

test('log in, see the overview, publish through the form and see it in the live tail', async () => {
  await withLogsOnFailure(server, async () => {
    const watcher = await rawSession(server, { token: jwt.connToken(server.secret, 'alice'), channels: ['news'] });
    const page = await browser.ctx.newPage();
    await page.goto(`${server.url}/admin`);
    await page.waitForSelector('#login:not([hidden])');
    await screenshot(page, 'admin-login');

    await page.fill('#password', 'wrong');
    await page.click('#login-form button');
    await page.waitForSelector('#login-error:text("wrong password")');

    await page.fill('#password', password);
    await page.click('#login-form button');
    await page.waitForSelector('#num-clients');
    await page.waitForFunction(() => document.querySelector('#num-clients').textContent === '1');
    await screenshot(page, 'admin-overview');

    await page.click('a[href="#/channels"]');
    await page.waitForSelector('#channel-table a:text("news")');
    await screenshot(page, 'admin-channels');
    await page.click('#channel-table a:text("news")');
    await page.waitForSelector('#tail :text("live: waiting for publications")');

    await page.fill('#publish-data', '{"text":"from the admin form"}');
    await page.click('#publish-form button');
    await page.waitForSelector('#publish-status.ok');
    await page.waitForSelector('#tail :text("from the admin form")');
    const got = await watcher.push((p) => p.pub !== undefined, 5000, 'the publication at a real client');
    assert.deepEqual(got.push.pub.data, { text: 'from the admin form' });
    await screenshot(page, 'admin-channel-live-tail');

    // a user's connections, and the disconnect button
    await page.goto(`${server.url}/admin/#/user/alice`);
    await page.waitForSelector(`#conn-table :text("${watcher.client}")`);
    await screenshot(page, 'admin-user');
    await page.click('#conn-table button.danger');
    const closed = await watcher.closed;
    assert.equal(closed.code, 3503);
    await page.waitForSelector('#conns :text("No live connection")');
    await page.close();
  });
});

test('readable on a phone: no horizontal scrolling on a 375 px wide screen', async () => {
  const phone = await launch({ viewport: { width: 375, height: 740 } });
  try {
    const page = await phone.ctx.newPage();
    await page.goto(`${server.url}/admin/`);
    await page.fill('#password', password);
    await page.click('#login-form button');
    await page.waitForSelector('#num-clients');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
    await screenshot(page, 'admin-phone');
  } finally {
    await phone.close();
  }
});

test('the admin API refuses calls without a session or without the header, and assets are embedded', async () => {
  const r = await request(server, '/admin/api/info', { method: 'POST', headers: { 'X-Lucent-Admin': '1' }, body: {} });
  assert.equal(r.status, 401);
  const forged = await request(server, '/admin/api/info', { method: 'POST', headers: { 'X-Lucent-Admin': '1', Cookie: 'lucent_admin=99999999999.00' }, body: {} });
  assert.equal(forged.status, 401);
  const login = await request(server, '/admin/login', { method: 'POST', body: { password } });
  const cookie = login.headers['set-cookie'][0].split(';')[0];
  assert.match(login.headers['set-cookie'][0], /HttpOnly; SameSite=Strict/);
  const noHeader = await request(server, '/admin/api/info', { method: 'POST', headers: { Cookie: cookie }, body: {} });
  assert.equal(noHeader.status, 403);
  const ok = await request(server, '/admin/api/info', { method: 'POST', headers: { Cookie: cookie, 'X-Lucent-Admin': '1' }, body: {} });
  assert.equal(ok.status, 200);
  assert.ok(ok.body.result.nodes.length >= 1);
  const js = await request(server, '/admin/app.js');
  assert.equal(js.status, 200);
  assert.match(js.headers['content-type'], /javascript/);
  assert.ok(!/https?:\/\//.test(js.text.replace(/location\.\w+/g, '')), 'no external resources');
});

test('failed logins are limited per address (429 with Retry-After)', async () => {
  let last;
  for (let i = 0; i < 6; i++) last = await request(server, '/admin/login', { method: 'POST', body: { password: 'nope' } });
  assert.equal(last.status, 429);
  assert.ok(Number(last.headers['retry-after']) > 0);
  // the password and the session secret never reach the logs
  const logs = server.logs();
  assert.ok(!logs.includes(password) && !logs.includes(secret));
  assert.match(logs, /admin: failed login from 127\.0\.0\.1/);
  assert.ok(fs.existsSync(require('node:path').join(__dirname, 'screenshots', 'admin-channel-live-tail.png')));
});
