'use strict';
// Publication tag filters (Centrifugo v6 `allow_tags_filter`, subscribe `tf`): a subscriber
// with a filter gets only the publications whose tags match it; subscribers without one get
// everything; a malformed filter, or any filter where the namespace does not allow one, is
// refused with 107. Filtering composes with the server API's exclude_client. Every test ends
// with a marker publication that matches: a subscriber's next publication being the marker
// proves the ones in between were not sent to it.

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { publish } = require('./lib/api');
const { newClient, connected, newSubscription, subscribed, nextPublication, rawSession, rawCall, valueOf } = require('./lib/client');
const { assertErrorReply } = require('./lib/chan');

const ctx = { server: null };
before(async () => {
  ctx.server = await startServer(
    merge(defaultConfig(), {
      channel: {
        namespaces: [
          { name: 'tf', allow_subscribe_for_client: true, allow_tags_filter: true },
          { name: 'plain', allow_subscribe_for_client: true },
          { name: 'tfh', allow_subscribe_for_client: true, allow_tags_filter: true, history_size: 10, history_ttl: '60s', force_recovery: true },
        ],
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

async function subscriber(ch, tagsFilter) {
  const c = newClient(ctx.server, { token: token() });
  const cctx = await connected(c);
  const sub = newSubscription(c, ch, tagsFilter ? { tagsFilter } : {});
  await subscribed(sub);
  return { c, sub, id: cctx.client };
}

// What `sub` receives of `pubs` ([data, tags]), followed by the marker: the list of n's.
async function received(sub, until) {
  const got = [];
  for (;;) {
    const n = valueOf((await nextPublication(sub)).data).n;
    if (n === until) return got;
    got.push(n);
  }
}

async function publishAll(ch, pubs, marker) {
  for (const [n, tags] of pubs) await publish(ctx.server, ch, { n }, tags ? { tags } : {});
  await publish(ctx.server, ch, { n: 'end' }, { tags: marker });
}

t('eq filter with the official client; a subscriber without a filter on the channel gets all', async () => {
  const ch = uniq('tf:');
  const f = await subscriber(ch, { key: 'ticker', cmp: 'eq', val: 'GOOG' });
  const same = await subscriber(ch, { key: 'ticker', cmp: 'eq', val: 'GOOG' });
  const all = await subscriber(ch);
  await publishAll(ch, [[1, { ticker: 'GOOG' }], [2, { ticker: 'AAPL' }], [3, null], [4, { ticker: 'GOOG', x: '1' }]], { ticker: 'GOOG' });
  assert.deepEqual(await received(f.sub, 'end'), [1, 4]);
  assert.deepEqual(await received(same.sub, 'end'), [1, 4]);
  assert.deepEqual(await received(all.sub, 'end'), [1, 2, 3, 4]);
  // the publication's tags reach the subscriber as published
  await publish(ctx.server, ch, { n: 5 }, { tags: { ticker: 'GOOG', y: 'z' } });
  const p = await nextPublication(f.sub);
  assert.deepEqual(p.tags, { ticker: 'GOOG', y: 'z' });
  for (const s of [f, same, all]) s.c.disconnect();
});

t('and / or / not, in / nin, ex / nex, sw / ew / ct, numeric comparisons', async () => {
  const ch = uniq('tf:');
  const cases = [
    // [filter, expected n's among the publications below]
    [{ op: 'and', nodes: [{ key: 'a', cmp: 'eq', val: '1' }, { key: 'b', cmp: 'eq', val: 'x' }] }, [1]],
    [{ op: 'or', nodes: [{ key: 'a', cmp: 'eq', val: '2' }, { key: 'b', cmp: 'eq', val: 'y' }] }, [2, 3]],
    [{ op: 'not', nodes: [{ key: 'a', cmp: 'eq', val: '1' }] }, [2, 3, 4, 5]],
    [{ key: 'a', cmp: 'in', vals: ['2', '10'] }, [2, 4]],
    [{ key: 'a', cmp: 'nin', vals: ['1', '2'] }, [3, 4, 5]],
    [{ key: 'b', cmp: 'ex' }, [1, 2, 3]],
    [{ key: 'b', cmp: 'nex' }, [4, 5]],
    [{ key: 'b', cmp: 'sw', val: 'xy' }, [2]],
    [{ key: 'b', cmp: 'ew', val: 'yz' }, [2]],
    [{ key: 'b', cmp: 'ct', val: 'y' }, [2, 3]],
    [{ key: 'a', cmp: 'gt', val: '2' }, [4, 5]],
    [{ key: 'a', cmp: 'gte', val: '2.0' }, [2, 4, 5]],
    [{ key: 'a', cmp: 'lt', val: '10' }, [1, 2, 5]],
    [{ key: 'a', cmp: 'lte', val: '1' }, [1]],
    [{ key: 'a', cmp: 'neq', val: '1' }, [2, 3, 4, 5]],
  ];
  const subs = [];
  for (const [filter] of cases) subs.push(await subscriber(ch, { op: 'or', nodes: [filter, { key: 'm', cmp: 'eq', val: 'end' }] }));
  await publishAll(
    ch,
    [
      [1, { a: '1', b: 'x' }],
      [2, { a: '2', b: 'xyz' }],
      [3, { a: 'q', b: 'y' }],
      [4, { a: '10' }],
      [5, { a: '2.5' }],
    ],
    { m: 'end', a: 'none' },
  );
  for (let i = 0; i < cases.length; i++) assert.deepEqual(await received(subs[i].sub, 'end'), cases[i][1], JSON.stringify(cases[i][0]));
  for (const s of subs) s.c.disconnect();
});

t('invalid filters are refused with 107; any filter where allow_tags_filter is off too', async () => {
  const raw = await rawSession(ctx.server, { token: token() });
  let deep = { key: 'k', cmp: 'eq', val: 'v' };
  for (let i = 0; i < 40; i++) deep = { op: 'not', nodes: [deep] };
  const wide = { op: 'or', nodes: Array.from({ length: 400 }, (_, i) => ({ key: 'k', cmp: 'eq', val: String(i) })) };
  const bad = [
    { key: 'k', cmp: 'like', val: 'v' }, // unknown cmp
    { key: 'k', val: 'v' }, // leaf without cmp
    { key: 'k', cmp: 'eq' }, // eq without val
    { key: 'k', cmp: 'in', val: 'v' }, // in without vals
    { key: 'k', cmp: 'ex', val: 'v' }, // ex with val
    { cmp: 'eq', val: 'v' }, // no key
    { op: 'xor', nodes: [{ key: 'k', cmp: 'ex' }] }, // unknown op
    { op: 'and', nodes: [] }, // and without nodes
    { op: 'not', nodes: [{ key: 'k', cmp: 'ex' }, { key: 'j', cmp: 'ex' }] }, // not with two
    { key: 'k', cmp: 'eq', val: 5 }, // val not a string
    deep,
    wide,
  ];
  for (const tf of bad) assertErrorReply(await rawCall(raw, { subscribe: { channel: uniq('tf:'), tf } }), 107, 'bad request');
  assertErrorReply(await rawCall(raw, { subscribe: { channel: uniq('plain:'), tf: { key: 'k', cmp: 'eq', val: 'v' } } }), 107, 'bad request');
  // the session goes on: a valid filter is accepted
  const ok = await rawCall(raw, { subscribe: { channel: uniq('tf:'), tf: { key: 'k', cmp: 'eq', val: 'v' } } });
  assert.ok(ok.subscribe, JSON.stringify(ok));
});

t('filter and exclude_client compose: an excluded matching subscriber misses the publication', async () => {
  const ch = uniq('tf:');
  const fl = { key: 'kind', cmp: 'eq', val: 'x' };
  const a = await subscriber(ch, fl);
  const b = await subscriber(ch, fl);
  const all = await subscriber(ch);
  await publish(ctx.server, ch, { n: 1 }, { tags: { kind: 'x' }, exclude_client: a.id });
  await publish(ctx.server, ch, { n: 2 }, { tags: { kind: 'y' }, exclude_client: b.id });
  await publish(ctx.server, ch, { n: 'end' }, { tags: { kind: 'x' } });
  assert.deepEqual(await received(a.sub, 'end'), []);
  assert.deepEqual(await received(b.sub, 'end'), [1]);
  assert.deepEqual(await received(all.sub, 'end'), [1, 2]);
  for (const s of [a, b, all]) s.c.disconnect();
});

t('recovered publications pass the filter too', async () => {
  const ch = uniq('tfh:');
  const first = await publish(ctx.server, ch, { n: 0 }, { tags: { k: 'a' } });
  await publish(ctx.server, ch, { n: 1 }, { tags: { k: 'a' } });
  await publish(ctx.server, ch, { n: 2 }, { tags: { k: 'b' } });
  await publish(ctx.server, ch, { n: 3 }, { tags: { k: 'a' } });
  const raw = await rawSession(ctx.server, { token: token() });
  const tf = { key: 'k', cmp: 'eq', val: 'a' };
  const r = await rawCall(raw, { subscribe: { channel: ch, recover: true, offset: first.offset, epoch: first.epoch, tf } });
  assert.equal(r.subscribe?.recovered, true, JSON.stringify(r));
  assert.deepEqual(r.subscribe.publications.map((p) => p.data.n), [1, 3]);
  // without a filter the same recovery gives all three
  const raw2 = await rawSession(ctx.server, { token: token() });
  const r2 = await rawCall(raw2, { subscribe: { channel: ch, recover: true, offset: first.offset, epoch: first.epoch } });
  assert.deepEqual(r2.subscribe.publications.map((p) => p.data.n), [1, 2, 3]);
});
