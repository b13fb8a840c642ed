'use strict';
// The core client scenarios in both client protocol encodings (JSON and Protobuf, the latter
// being what the iOS, Android and Flutter SDKs speak) and over both the WebSocket and the
// HTTP-streaming transport, with the official client (`centrifuge` and its
// `centrifuge/build/protobuf` entry point): connect, subscribe, publish/receive, presence,
// history and recovery, RPC through the proxy, server-side subscriptions, connection token
// refresh. Encoding and transport are parameters of one set of scenarios (spec §1.1, §1.2, §8.1).

const assert = require('node:assert/strict');
const { test, before, after, describe } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish } = require('./lib/api');
const { newClient, connected, newSubscription, subscribed, nextPublication, payload, valueOf } = require('./lib/client');
const { newStreamClient } = require('./lib/stream');
const { startBackend } = require('./lib/backend');
const { sleep } = require('./lib/wait');

const ENCODINGS = ['json', 'protobuf'];
const TRANSPORTS = ['websocket', 'http_stream'];

const ctx = { server: null, backend: null };
before(async () => {
  ctx.backend = await startBackend({
    '/rpc': (r) => ({ json: { result: { data: { method: r.json?.method, echo: r.json?.data ?? null } } } }),
  });
  ctx.server = await startServer(
    merge(defaultConfig(), {
      http_stream: { enabled: true },
      channel: {
        namespaces: [
          { name: 'chat', allow_subscribe_for_client: true, allow_publish_for_subscriber: true, allow_presence_for_subscriber: true, presence: true },
          {
            name: 'hist',
            allow_subscribe_for_client: true,
            allow_history_for_subscriber: true,
            history_size: 20,
            history_ttl: '300s',
            force_recovery: true,
          },
        ],
      },
      rpc: { proxy: { endpoint: ctx.backend.url('/rpc') }, without_namespace: { proxy_enabled: true } },
    }),
  );
});
after(async () => {
  if (ctx.server) await assertCleanExit(ctx.server);
  await ctx.backend?.close();
});

let seq = 0;
const uniq = (p) => `${p}${process.pid}x${++seq}`;
const token = (user, extra = {}, opts) => jwt.connToken(ctx.server.secret, user, extra, opts);

function client(encoding, transport, opts = {}) {
  return transport === 'websocket'
    ? newClient(ctx.server, { encoding, ...opts })
    : newStreamClient(ctx.server, transport, { encoding, ...opts });
}

for (const encoding of ENCODINGS) {
  for (const transport of TRANSPORTS) {
    describe(`${encoding} over ${transport}`, () => {
      const t = (name, fn) => test(name, () => withLogsOnFailure(ctx.server, fn));
      const out = (v) => payload(v, encoding);

      t('connect, subscribe, API and client publications arrive exactly, with publisher info', async () => {
        const ch = uniq('chat:');
        const a = client(encoding, transport, { token: token('1') });
        const b = client(encoding, transport, { token: token('2') });
        const actx = await connected(a);
        await connected(b);
        const sa = newSubscription(a, ch);
        const sb = newSubscription(b, ch);
        await subscribed(sa);
        await subscribed(sb);
        const data = { text: 'héllo', n: [1, 2.5, -3], nested: { ok: true, none: null } };
        await publish(ctx.server, ch, data);
        const p1 = await nextPublication(sb);
        if (encoding === 'protobuf') assert.ok(p1.data instanceof Uint8Array, 'protobuf data is bytes');
        assert.deepEqual(valueOf(p1.data), data);
        assert.equal(p1.info, undefined);
        await sa.publish(out({ from: 'a' }));
        const p2 = await nextPublication(sb);
        assert.deepEqual(valueOf(p2.data), { from: 'a' });
        assert.equal(p2.info.user, '1');
        assert.equal(p2.info.client, actx.client);
      });

      t('presence and presence stats', async () => {
        const ch = uniq('chat:');
        const a = client(encoding, transport, { token: token('7') });
        await connected(a);
        const s = newSubscription(a, ch);
        await subscribed(s);
        const pres = await s.presence();
        const entries = Object.values(pres.clients);
        assert.equal(entries.length, 1);
        assert.equal(entries[0].user, '7');
        assert.deepEqual(await s.presenceStats(), { numClients: 1, numUsers: 1 });
      });

      t('history and recovery from a stream position', async () => {
        const ch = uniq('hist:');
        for (let i = 1; i <= 3; i++) await publish(ctx.server, ch, { i });
        const a = client(encoding, transport, { token: token('3') });
        await connected(a);
        const s = newSubscription(a, ch);
        const sctx = await subscribed(s);
        assert.equal(sctx.recoverable, true);
        assert.equal(sctx.streamPosition.offset, 3);
        const h = await s.history({ limit: 10 });
        assert.deepEqual(h.publications.map((p) => valueOf(p.data)), [{ i: 1 }, { i: 2 }, { i: 3 }]);
        assert.deepEqual(h.publications.map((p) => p.offset), [1, 2, 3]);
        assert.equal(h.epoch, sctx.streamPosition.epoch);
        // a second client recovers what it missed since offset 1
        const b = client(encoding, transport, { token: token('4') });
        await connected(b);
        const sb = newSubscription(b, ch, { since: { offset: 1, epoch: h.epoch } });
        const bctx = await subscribed(sb);
        assert.equal(bctx.recovered, true);
        assert.deepEqual(valueOf((await nextPublication(sb)).data), { i: 2 });
        assert.deepEqual(valueOf((await nextPublication(sb)).data), { i: 3 });
      });

      t('RPC through the proxy: data goes to the backend and back byte for byte', async () => {
        const a = client(encoding, transport, { token: token('5') });
        await connected(a);
        const r = await a.rpc('sum', out({ a: 1, b: [2, 3] }));
        assert.deepEqual(valueOf(r.data), { method: 'sum', echo: { a: 1, b: [2, 3] } });
      });

      t('server-side subscription from the token: publications arrive on the client', async () => {
        const ch = uniq('news');
        const a = client(encoding, transport, { token: token('6', { channels: [ch] }) });
        const got = [];
        a.on('publication', (p) => got.push(p));
        const sub = new Promise((resolve) => a.on('subscribed', resolve));
        await connected(a);
        assert.equal((await sub).channel, ch);
        await publish(ctx.server, ch, { server: 'side' });
        for (let i = 0; i < 50 && got.length === 0; i++) await sleep(20);
        assert.equal(got.length, 1);
        assert.equal(got[0].channel, ch);
        assert.deepEqual(valueOf(got[0].data), { server: 'side' });
      });

      t('connection token refresh: a 2 s token is refreshed and the client stays connected', async () => {
        let calls = 0;
        const a = client(encoding, transport, {
          token: token('8', {}, { ttl: 2 }),
          getToken: async () => {
            calls++;
            return token('8', {}, { ttl: 60 });
          },
        });
        await connected(a);
        const mark = a.lc.events.length;
        for (let i = 0; i < 40 && calls === 0; i++) await sleep(100);
        await sleep(300);
        assert.ok(calls >= 1, 'getToken was not called');
        assert.deepEqual(a.lc.events.slice(mark), [], 'the client was disconnected');
        assert.equal(a.state, 'connected');
        const r = await api(ctx.server, 'info', {});
        assert.equal(r.status, 200);
      });
    });
  }
}
