'use strict';
// Connection: JWT authentication, connect result fields, and the protocol errors that close a
// connection before or around connect (spec §1.4, §1.6 connect, §2.3, §3).

const assert = require('node:assert/strict');
const { test, before } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { newClient, connected, disconnected, rawConnect, rawSession } = require('./lib/client');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let server;
before(async () => {
  server = await startServer(defaultConfig());
});

const t = (name, fn) => test(name, () => withLogsOnFailure(server, fn));

t('token connect: raw reply carries a UUID client id, a version, ping 25 and pong true', async () => {
  const raw = await rawConnect(server);
  raw.send(JSON.stringify({ id: 1, connect: { token: jwt.connToken(server.secret, '42'), name: 'test' } }));
  const reply = await raw.reply(1);
  assert.equal(reply.error, undefined, `connect error: ${JSON.stringify(reply)}`);
  const r = reply.connect;
  assert.ok(r, `no connect result in ${JSON.stringify(reply)}`);
  assert.match(r.client, UUID);
  assert.equal(typeof r.version, 'string');
  assert.ok(r.version.length > 0, 'version is empty');
  assert.equal(r.ping, 25);
  assert.equal(r.pong, true);
  // the token has exp: client-side refresh is announced
  assert.equal(r.expires, true);
  assert.ok(Number.isInteger(r.ttl) && r.ttl > 3500 && r.ttl <= 3600, `ttl ${r.ttl}`);
});

t('token without exp: connect result has no expires/ttl', async () => {
  const raw = await rawSession(server, { token: jwt.connToken(server.secret, '42', {}, { ttl: 0 }) });
  assert.equal(raw.connectResult.expires, undefined);
  assert.equal(raw.connectResult.ttl, undefined);
});

t('centrifuge-js connects with a token and gets distinct client ids', async () => {
  const a = newClient(server, { token: jwt.connToken(server.secret, '1') });
  const b = newClient(server, { token: jwt.connToken(server.secret, '2') });
  const [ca, cb] = await Promise.all([connected(a), connected(b)]);
  assert.match(ca.client, UUID);
  assert.match(cb.client, UUID);
  assert.notEqual(ca.client, cb.client);
  assert.equal(ca.transport, 'websocket');
});

t('bad signature → close 3500', async () => {
  const raw = await rawConnect(server);
  raw.send(JSON.stringify({ id: 1, connect: { token: jwt.wrongKeyToken({ sub: '42' }) } }));
  const c = await raw.closed;
  assert.equal(c.code, 3500);
  assert.equal(c.reason, 'invalid token');
});

t('bad signature with centrifuge-js → disconnected 3500 (terminal)', async () => {
  const c = newClient(server, { token: jwt.wrongKeyToken({ sub: '42' }) });
  const d = await disconnected(c);
  assert.equal(d.code, 3500);
});

t('alg none → close 3500', async () => {
  const raw = await rawConnect(server);
  raw.send(JSON.stringify({ id: 1, connect: { token: jwt.algNoneToken({ sub: '42' }) } }));
  assert.equal((await raw.closed).code, 3500);
});

t('garbage token → close 3500', async () => {
  const raw = await rawConnect(server);
  raw.send(JSON.stringify({ id: 1, connect: { token: 'not.a.jwt' } }));
  assert.equal((await raw.closed).code, 3500);
});

t('token with a channel claim → close 3500', async () => {
  const raw = await rawConnect(server);
  raw.send(JSON.stringify({ id: 1, connect: { token: jwt.connToken(server.secret, '42', { channel: 'news' }) } }));
  assert.equal((await raw.closed).code, 3500);
});

t('expired token → error 109 "token expired" reply', async () => {
  const raw = await rawConnect(server);
  raw.send(JSON.stringify({ id: 1, connect: { token: jwt.expiredToken(server.secret, { sub: '42' }) } }));
  const reply = await raw.reply(1);
  assert.deepEqual(reply, { id: 1, error: { code: 109, message: 'token expired' } });
});

t('no token without client.insecure → close 3501', async () => {
  const raw = await rawConnect(server);
  raw.send(JSON.stringify({ id: 1, connect: {} }));
  const c = await raw.closed;
  assert.equal(c.code, 3501);
  assert.equal(c.reason, 'bad request');
});

t('command before connect → close 3501', async () => {
  const raw = await rawConnect(server);
  raw.send(JSON.stringify({ id: 1, subscribe: { channel: 'x' } }));
  assert.equal((await raw.closed).code, 3501);
});

t('malformed JSON → close 3501', async () => {
  const raw = await rawConnect(server);
  raw.send('{"id":1,"connect":{');
  assert.equal((await raw.closed).code, 3501);
});

t('malformed JSON after connect → close 3501', async () => {
  const raw = await rawSession(server, { token: jwt.connToken(server.secret, '42') });
  raw.send('not json at all');
  assert.equal((await raw.closed).code, 3501);
});

t('empty message → close 3501', async () => {
  const raw = await rawConnect(server);
  raw.send('');
  assert.equal((await raw.closed).code, 3501);
});

t('second connect on a connected connection → close 3501', async () => {
  const token = jwt.connToken(server.secret, '42');
  const raw = await rawSession(server, { token });
  raw.send(JSON.stringify({ id: 2, connect: { token } }));
  assert.equal((await raw.closed).code, 3501);
});

t('unsolicited pong (id 0, no ping outstanding) → close 3501', async () => {
  const raw = await rawSession(server, { token: jwt.connToken(server.secret, '42') });
  raw.send('{}');
  assert.equal((await raw.closed).code, 3501);
});

t('hand-built token with escaped slashes (PHP json_encode) connects and keeps its info', async () => {
  // PHP's json_encode writes "http:\/\/x"; the server must accept it as ordinary JSON.
  const payload = `{"sub":"42","info":{"url":"http:\\/\\/x"},"exp":${jwt.now() + 3600}}`;
  assert.ok(payload.includes('http:\\/\\/x'));
  const token = jwt.signRaw('{"typ":"JWT","alg":"HS256"}', payload, server.secret);
  const raw = await rawSession(server, { token, channels: ['chat:php'] });
  assert.match(raw.client, UUID);
  // the info reaches other clients as conn_info of client publications
  const id = raw.cmd({ publish: { channel: 'chat:php', data: { n: 1 } } });
  assert.deepEqual(await raw.reply(id), { id, publish: {} });
  const push = await raw.push((p) => p.channel === 'chat:php');
  assert.deepEqual(push.push.pub.info, { user: '42', client: raw.client, conn_info: { url: 'http://x' } });
});

test('client.insecure: connect without a token works', async () => {
  const srv = await startServer(merge(defaultConfig(), { client: { insecure: true } }));
  try {
    await withLogsOnFailure(srv, async () => {
      const raw = await rawSession(srv, {});
      assert.match(raw.client, UUID);
      const c = newClient(srv);
      const ctx = await connected(c);
      assert.match(ctx.client, UUID);
      c.disconnect();
      raw.close();
      await raw.closed;
    });
  } finally {
    await assertCleanExit(srv);
  }
});

test('allow_anonymous_connect_without_token: connect without a token works', async () => {
  const srv = await startServer(merge(defaultConfig(), { client: { allow_anonymous_connect_without_token: true } }));
  try {
    await withLogsOnFailure(srv, async () => {
      const raw = await rawSession(srv, {});
      assert.match(raw.client, UUID);
      raw.close();
      await raw.closed;
    });
  } finally {
    await assertCleanExit(srv);
  }
});

test('graceful shutdown: open connections get close 3001 and the server exits 0', async () => {
  const srv = await startServer(defaultConfig());
  let closed;
  try {
    await withLogsOnFailure(srv, async () => {
      const raw = await rawSession(srv, { token: jwt.connToken(srv.secret, '42'), channels: ['news'] });
      closed = raw.closed;
    });
  } finally {
    await assertCleanExit(srv);
  }
  const c = await closed;
  assert.equal(c.code, 3001);
  assert.equal(c.reason, 'shutdown');
});

test('shared server shuts down cleanly on SIGTERM', async () => {
  await assertCleanExit(server);
});
