'use strict';
// client.write_delay and client.max_messages_in_frame (Centrifugo's message batching controls):
// a WebSocket connection's pushes wait for the delay and go out together; each delayed write
// carries at most max_messages_in_frame messages; bytes and order are untouched.

const assert = require('node:assert/strict');
const { test, after } = require('node:test');
const { startServer, defaultConfig, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api } = require('./lib/api');
const { rawSession } = require('./lib/client');

const servers = [];
after(async () => {
  for (const s of servers) await s.stop();
});

async function server(client) {
  const cfg = defaultConfig();
  cfg.client = { ...cfg.client, ...client };
  const s = await startServer(cfg);
  servers.push(s);
  return s;
}

async function publishAll(s, channel, n) {
  for (let i = 0; i < n; i++) {
    const r = await api(s, 'publish', { channel, data: { i, text: `m\u00e9ssage ${i}` } });
    assert.deepEqual(r.body, { result: {} });
  }
}

test('write_delay holds pushes back and writes them together, in order, bytes intact', { timeout: 20000 }, async () => {
  const s = await server({ write_delay: '300ms' });
  await withLogsOnFailure(s, async () => {
    const c = await rawSession(s, { token: jwt.connToken(s.secret, 'wd'), channels: ['chat:wd'] });
    const t0 = Date.now();
    await publishAll(s, 'chat:wd', 5);
    const got = [];
    let first;
    while (got.length < 5) {
      const m = await c.next(5000);
      if (!m.push) continue;
      if (first === undefined) first = Date.now() - t0;
      got.push(m);
    }
    // nothing reaches the client before the delay (measured from the first publication)
    assert.ok(first >= 250, `first push after ${first} ms, before the 300 ms write delay`);
    assert.deepEqual(
      got.map((m) => m.push.pub.data),
      [0, 1, 2, 3, 4].map((i) => ({ i, text: `m\u00e9ssage ${i}` })),
    );
    // replies wait too, like every message of the connection
    const r0 = Date.now();
    c.cmd({ presence_stats: { channel: 'chat:wd' } });
    await c.messages.take((m) => m.id !== undefined, 5000, 'reply');
    assert.ok(Date.now() - r0 >= 200, 'a reply skipped the write delay');
    c.close();
  });
});

test('max_messages_in_frame caps what one delayed write carries', { timeout: 20000 }, async () => {
  const s = await server({ write_delay: '150ms', max_messages_in_frame: 2 });
  await withLogsOnFailure(s, async () => {
    const c = await rawSession(s, { token: jwt.connToken(s.secret, 'cap'), channels: ['chat:cap'] });
    const t0 = Date.now();
    await publishAll(s, 'chat:cap', 6);
    const got = [];
    while (got.length < 6) {
      const m = await c.next(5000);
      if (m.push) got.push(m.push.pub.data.i);
    }
    // 6 messages, 2 per write, one write per 150 ms: the last cannot come before ~450 ms
    const took = Date.now() - t0;
    assert.ok(took >= 400, `6 messages in ${took} ms: more than 2 per delayed write`);
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
    c.close();
  });
});

test('with -1 every queued message goes in the next delayed write; the server stops cleanly', { timeout: 20000 }, async () => {
  const s = await server({ write_delay: '100ms', max_messages_in_frame: -1 });
  await withLogsOnFailure(s, async () => {
    const c = await rawSession(s, { token: jwt.connToken(s.secret, 'all'), channels: ['chat:all'] });
    await publishAll(s, 'chat:all', 40);
    const got = [];
    while (got.length < 40) {
      const m = await c.next(5000);
      if (m.push) got.push(m.push.pub.data.i);
    }
    assert.deepEqual(got, Array.from({ length: 40 }, (_, i) => i));
    c.close();
    await s.stop();
    assertCleanExit(s);
  });
});
