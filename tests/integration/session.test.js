'use strict';
// Session timers driven by the worker's single timer: native WebSocket pings
// (?cf_ws_frame_ping_pong=true), a peer that never answers them, and connections that never
// authenticate (stale).

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { publish } = require('./lib/api');
const { rawConnect, rawSession } = require('./lib/client');
const { sleep } = require('./lib/wait');

let server;
before(async () => {
  server = await startServer(
    merge(defaultConfig(), { client: { ping_interval: '1s', pong_timeout: '500ms', stale_close_delay: '1s' } }),
  );
});
after(async () => {
  await assertCleanExit(server);
});

const t = (name, fn) => test(name, () => withLogsOnFailure(server, fn));
const token = (user = '42') => jwt.connToken(server.secret, user);
const nativeUrl = () => `${server.wsUrl}?cf_ws_frame_ping_pong=true`;

t('cf_ws_frame_ping_pong=true: no app-level ping/pong, native ping frames instead, still served', async () => {
  const raw = await rawSession(nativeUrl(), { token: token(), channels: ['news'], keepPings: true });
  assert.equal(raw.connectResult.ping, undefined, JSON.stringify(raw.connectResult));
  assert.equal(raw.connectResult.pong, undefined, JSON.stringify(raw.connectResult));
  let nativePings = 0;
  raw.ws.on('ping', () => nativePings++); // the ws package answers each with a pong frame
  await sleep(2600);
  assert.ok(nativePings >= 2, `expected native pings, got ${nativePings}`);
  assert.equal(raw.pings, 0, 'app-level {} pings were sent on a native-ping connection');
  assert.ok(raw.isOpen(), 'a client answering native pings was closed');
  await publish(server, 'news', { ok: 1 });
  assert.deepEqual(await raw.next(), { push: { channel: 'news', pub: { data: { ok: 1 } } } });
});

t('cf_ws_frame_ping_pong=true: a peer that never answers native pings is closed with 3012', async () => {
  const raw = await rawSession(nativeUrl(), { token: token() });
  raw.ws._receiver.removeAllListeners('ping'); // stop the automatic pong answers
  raw.ws._receiver.on('ping', () => {});
  const closed = await Promise.race([raw.closed, sleep(6000).then(() => null)]);
  assert.ok(closed, 'not closed within 6 s');
  assert.equal(closed.code, 3012);
  assert.equal(closed.reason, 'no pong');
});

t('a connection that never sends connect is closed as stale (3502)', async () => {
  const raw = await rawConnect(server);
  const started = Date.now();
  const closed = await Promise.race([raw.closed, sleep(5000).then(() => null)]);
  assert.ok(closed, 'not closed within 5 s');
  assert.equal(closed.code, 3502);
  assert.equal(closed.reason, 'stale');
  assert.ok(Date.now() - started >= 500, 'closed before stale_close_delay');
});

t('a connected client is not closed as stale', async () => {
  const raw = await rawSession(server, { token: token() });
  await sleep(1800);
  assert.ok(raw.isOpen(), 'an authenticated connection was closed');
});
