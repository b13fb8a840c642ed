'use strict';
// Subscribe flags and fields of the v6.x protocol (spec §1.6 subscribe): bit 2 ("reject
// unrecovered") turns a recovery that cannot be satisfied into error 112, so the SDK reloads
// its state with getState; bit 1 (channel compaction) is accepted and changes nothing; a
// subscription type other than a stream and a tag filter where the namespace does not allow
// one (allow_tags_filter off) are refused; tag filters themselves: tags_filter.test.js.

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { publish } = require('./lib/api');
const { newClient, connected, newSubscription, subscribed, nextPublication, rawSession, rawCall } = require('./lib/client');
const { assertErrorReply } = require('./lib/chan');

const ctx = { server: null };
before(async () => {
  ctx.server = await startServer(
    merge(defaultConfig(), {
      channel: {
        namespaces: [{ name: 'st', allow_subscribe_for_client: true, history_size: 10, history_ttl: '60s', force_recovery: true }],
      },
    }),
  );
});
after(async () => {
  if (ctx.server) await assertCleanExit(ctx.server);
});
const t = (name, fn) => test(name, () => withLogsOnFailure(ctx.server, fn));
let seq = 0;
const uniq = (p) => `${p}${process.pid}x${++seq}`;
const token = (user = '42') => jwt.connToken(ctx.server.secret, user);

t('reject unrecovered (flag 2): a wrong epoch is 112; without the flag a fresh position', async () => {
  const ch = uniq('st:');
  await publish(ctx.server, ch, { n: 1 });
  const raw = await rawSession(ctx.server, { token: token() });
  const bad = await rawCall(raw, { subscribe: { channel: ch, recover: true, offset: 1, epoch: 'gone', flag: 3 } });
  assertErrorReply(bad, 112, 'unrecoverable position');
  const ok = await rawCall(raw, { subscribe: { channel: ch, recover: true, offset: 1, epoch: 'gone', flag: 1 } });
  assert.ok(ok.subscribe, JSON.stringify(ok));
  assert.equal(ok.subscribe.recovered, undefined);
  assert.equal(ok.subscribe.was_recovering, true);
  assert.equal(ok.subscribe.offset, 1);
  // a recovery that succeeds is unaffected by the flag
  const raw2 = await rawSession(ctx.server, { token: token() });
  const good = await rawCall(raw2, { subscribe: { channel: ch, recover: true, offset: 1, epoch: ok.subscribe.epoch, flag: 3 } });
  assert.equal(good.subscribe.recovered, true, JSON.stringify(good));
});

t('centrifuge-js with getState: an unrecoverable position makes the SDK reload its state', async () => {
  const ch = uniq('st:');
  const r = await publish(ctx.server, ch, { n: 1 });
  let calls = 0;
  const c = newClient(ctx.server, { token: token() });
  await connected(c);
  const sub = newSubscription(c, ch, {
    getState: async () => {
      calls++;
      // the first answer is a position from another stream (lost), the second the real one
      return calls === 1 ? { offset: 1, epoch: 'lost' } : { offset: r.offset, epoch: r.epoch };
    },
  });
  const sctx = await subscribed(sub);
  assert.equal(calls, 2, 'getState called again after 112');
  assert.equal(sctx.recovered, true);
  await publish(ctx.server, ch, { n: 2 });
  assert.deepEqual((await nextPublication(sub)).data, { n: 2 });
});

t('subscription type other than stream → 107; tag filter without allow_tags_filter → 107', async () => {
  const raw = await rawSession(ctx.server, { token: token() });
  assertErrorReply(await rawCall(raw, { subscribe: { channel: uniq('st:'), type: 1 } }), 107, 'bad request');
  assertErrorReply(await rawCall(raw, { subscribe: { channel: uniq('st:'), type: 4 } }), 107, 'bad request');
  assertErrorReply(await rawCall(raw, { subscribe: { channel: uniq('st:'), tf: { key: 'k', cmp: 'eq', val: 'v' } } }), 107, 'bad request');
  const ok = await rawCall(raw, { subscribe: { channel: uniq('st:'), type: 0, flag: 1 } });
  assert.ok(ok.subscribe, JSON.stringify(ok));
});
