'use strict';
// History, stream positions and recovery with the memory engine (spec §1.6 subscribe/history,
// §7): centrifuge-js recovering after a network drop, the raw subscribe result of a recovery
// (success, epoch mismatch, trimmed stream), positioning, the client history command and the
// history TTL.

const assert = require('node:assert/strict');
const { defaultConfig, merge } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish } = require('./lib/api');
const { newClient, connected, newSubscription, subscribed, rawSession, rawCall } = require('./lib/client');
const { waitUntil, sleep } = require('./lib/wait');
const { sharedServer, events, dropTransport, assertErrorReply, offsets, offsetOf } = require('./lib/chan');

const HISTORY = { history_size: 100, history_ttl: '300s' };

const ctx = sharedServer(() =>
  merge(defaultConfig(), {
    channel: {
      namespaces: [
        // recovery forced: every subscription is recoverable
        { name: 'rec', allow_subscribe_for_client: true, ...HISTORY, force_recovery: true },
        // recovery on the client's request
        { name: 'arec', allow_subscribe_for_client: true, ...HISTORY, allow_recovery: true, allow_history_for_subscriber: true },
        // a stream of 3: older positions cannot be recovered
        { name: 'short', allow_subscribe_for_client: true, history_size: 3, history_ttl: '300s', force_recovery: true },
        { name: 'pos', allow_subscribe_for_client: true, history_size: 10, history_ttl: '300s', allow_positioning: true },
        { name: 'hist', allow_subscribe_for_client: true, ...HISTORY, allow_history_for_subscriber: true },
        {
          name: 'histclient',
          allow_subscribe_for_client: true,
          ...HISTORY,
          allow_history_for_client: true,
          allow_publish_for_client: true,
        },
        { name: 'noperm', allow_subscribe_for_client: true, ...HISTORY },
        { name: 'nohist', allow_subscribe_for_client: true, allow_history_for_client: true },
        { name: 'ttl', allow_subscribe_for_client: true, history_size: 10, history_ttl: '1s', allow_history_for_client: true },
      ],
    },
  }),
);
const { t } = ctx;
const token = (user = '42') => jwt.connToken(ctx.server.secret, user);

/** Publish {n} for each n, returning the API results ({offset, epoch}). */
async function publishN(channel, ns) {
  const results = [];
  for (const n of ns) results.push(await publish(ctx.server, channel, { n }));
  return results;
}

/** Raw subscribe that must succeed; resolves the subscribe result. */
async function rawSubscribe(raw, req) {
  const r = await rawCall(raw, { subscribe: req });
  assert.ok(r.subscribe, `subscribe to ${req.channel} failed: ${JSON.stringify(r)}`);
  return r.subscribe;
}

/** Raw history that must succeed; resolves the history result. */
async function rawHistory(raw, req) {
  const r = await rawCall(raw, { history: req });
  assert.ok(r.history, `history of ${req.channel} failed: ${JSON.stringify(r)}`);
  return r.history;
}

/** Publish {n: 1..count} to a fresh channel with history; resolves the stream's epoch. */
async function channelWith(channel, count) {
  const ns = Array.from({ length: count }, (_, i) => i + 1);
  const res = await publishN(channel, ns);
  const epoch = res[0].epoch;
  assert.ok(typeof epoch === 'string' && epoch.length > 0, `API publish returned no epoch: ${JSON.stringify(res[0])}`);
  assert.deepEqual(offsets(res), ns);
  return epoch;
}

// ---------------------------------------------------------------------------------------------
// centrifuge-js

/**
 * The SDK flow both recovery modes share: 3 live publications, a drop, 5 publications while
 * away, then recovery. subOpts are the subscription options.
 */
async function sdkRecoveryAfterDrop(channel, subOpts, cut) {
  // reconnect only after 1-1.5 s, so the publications below happen while it is away
  const c = newClient(ctx.server, { token: token('1'), minReconnectDelay: 1000, maxReconnectDelay: 1500 });
  await connected(c);
  const sub = newSubscription(c, channel, subOpts);
  const subs = events(sub, 'subscribed');
  const got = [];
  sub.on('publication', (p) => got.push(p));
  await subscribed(sub);
  const first = await subs.next();
  assert.equal(first.recoverable, true, `first subscribe ctx ${JSON.stringify(first)}`);
  assert.equal(first.positioned, true);
  assert.equal(first.wasRecovering, false);
  assert.equal(first.recovered, false);

  await publishN(channel, [0, 1, 2]);
  await waitUntil(() => got.length >= 3, { timeoutMs: 5000, what: '3 live publications' });

  const connecting = events(c, 'connecting');
  await cut(c);
  const why = await connecting.next(5000);
  await publishN(channel, [3, 4, 5, 6, 7]);
  assert.equal(c.state, 'connecting', 'the client reconnected before the publications were made');

  const second = await subs.next(10000);
  assert.equal(second.wasRecovering, true, `resubscribe ctx ${JSON.stringify(second)}`);
  assert.equal(second.recovered, true, `resubscribe ctx ${JSON.stringify(second)}`);
  await waitUntil(() => got.length >= 8, { timeoutMs: 5000, what: '8 publications in all' });
  await sleep(300); // a duplicate would arrive now
  assert.deepEqual(
    got.map((p) => p.data.n),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  assert.deepEqual(offsets(got), [1, 2, 3, 4, 5, 6, 7, 8]);
  return why;
}

t('centrifuge-js (force_recovery): after a network drop every missed publication arrives once, in order', async () => {
  await sdkRecoveryAfterDrop('rec:sdk-drop', {}, (c) => dropTransport(c));
});

t('centrifuge-js (allow_recovery, recoverable option): the client-requested recovery works the same way', async () => {
  await sdkRecoveryAfterDrop('arec:sdk-drop', { recoverable: true, positioned: true }, (c) => dropTransport(c));
});

t('centrifuge-js: API disconnect with 3011 "force reconnect" → reconnect and recover', async () => {
  const why = await sdkRecoveryAfterDrop('rec:sdk-3011', {}, async () => {
    const r = await api(ctx.server, 'disconnect', { user: '1', disconnect: { code: 3011, reason: 'force reconnect' } });
    assert.deepEqual(r.body, { result: {} });
  });
  assert.equal(why.code, 3011);
  assert.equal(why.reason, 'force reconnect');
});

t('centrifuge-js in an allow_recovery namespace without the recoverable option: not recoverable', async () => {
  const c = newClient(ctx.server, { token: token('1') });
  await connected(c);
  const sub = newSubscription(c, 'arec:plain');
  const s = await subscribed(sub);
  assert.equal(s.recoverable, false);
  assert.equal(s.positioned, false);
  assert.equal(s.streamPosition, undefined);
});

// ---------------------------------------------------------------------------------------------
// raw subscribe results

t('raw: first subscribe in a force_recovery namespace returns recoverable, positioned and the stream position', async () => {
  const raw = await rawSession(ctx.server, { token: token() });
  const r = await rawSubscribe(raw, { channel: 'rec:r-first' });
  assert.equal(r.recoverable, true, JSON.stringify(r));
  assert.equal(r.positioned, true);
  assert.ok(typeof r.epoch === 'string' && r.epoch.length > 0, `no epoch in ${JSON.stringify(r)}`);
  assert.equal(offsetOf(r), 0);
  assert.equal(r.recovered, undefined);
  assert.equal(r.was_recovering, undefined);
  assert.equal(r.publications, undefined);

  // publications get offsets 1, 2, 3 in the same epoch, on the API result and on the push
  const res = await publishN('rec:r-first', [1, 2, 3]);
  assert.deepEqual(offsets(res), [1, 2, 3]);
  for (const x of res) assert.equal(x.epoch, r.epoch);
  for (const n of [1, 2, 3]) {
    const m = await raw.push((p) => p.channel === 'rec:r-first');
    assert.deepEqual(m, { push: { channel: 'rec:r-first', pub: { data: { n }, offset: n } } });
  }
});

t('raw: recover from offset 1 → recovered, the request offset, and publications 2..3 in order', async () => {
  const ch = 'rec:r-ok';
  const epoch = await channelWith(ch, 3);
  const raw = await rawSession(ctx.server, { token: token() });
  const r = await rawSubscribe(raw, { channel: ch, recover: true, offset: 1, epoch });
  assert.equal(r.recovered, true, JSON.stringify(r));
  assert.equal(r.was_recovering, true);
  assert.equal(r.recoverable, true);
  assert.equal(r.positioned, true);
  assert.equal(r.epoch, epoch);
  // spec §7.3 / §12 item 7: the result carries the offset the client recovered from
  assert.equal(offsetOf(r), 1, `result offset ${JSON.stringify(r)}`);
  assert.deepEqual(r.publications, [
    { data: { n: 2 }, offset: 2 },
    { data: { n: 3 }, offset: 3 },
  ]);

  // and the subscription is live afterwards, continuing the stream
  await publish(ctx.server, ch, { n: 4 });
  assert.deepEqual(await raw.push((p) => p.channel === ch), { push: { channel: ch, pub: { data: { n: 4 }, offset: 4 } } });
});

t('raw: recover from the current top → recovered with no publications', async () => {
  const ch = 'rec:r-top';
  const epoch = await channelWith(ch, 3);
  const raw = await rawSession(ctx.server, { token: token() });
  const r = await rawSubscribe(raw, { channel: ch, recover: true, offset: 3, epoch });
  assert.equal(r.recovered, true, JSON.stringify(r));
  assert.equal(r.was_recovering, true);
  assert.equal(offsetOf(r), 3);
  assert.equal(r.epoch, epoch);
  assert.ok(r.publications === undefined || r.publications.length === 0, JSON.stringify(r));
});

t('raw: recover with an empty epoch → any epoch matches, recovered', async () => {
  const ch = 'rec:r-noepoch';
  await channelWith(ch, 3);
  const raw = await rawSession(ctx.server, { token: token() });
  const r = await rawSubscribe(raw, { channel: ch, recover: true, offset: 2 });
  assert.equal(r.recovered, true, JSON.stringify(r));
  assert.deepEqual(offsets(r.publications), [3]);
});

t('raw: recover with another epoch → not an error: recovered false, top position, no publications', async () => {
  const ch = 'rec:r-epoch';
  const epoch = await channelWith(ch, 3);
  const raw = await rawSession(ctx.server, { token: token() });
  const r = await rawSubscribe(raw, { channel: ch, recover: true, offset: 1, epoch: `${epoch}x` });
  assert.equal(r.recovered, undefined, `recovered must be false (omitted): ${JSON.stringify(r)}`);
  assert.equal(r.was_recovering, true);
  assert.equal(r.recoverable, true);
  assert.equal(r.epoch, epoch);
  assert.equal(offsetOf(r), 3);
  assert.ok(r.publications === undefined || r.publications.length === 0, JSON.stringify(r));
});

t('raw: recover from a position trimmed off a stream of 3 → recovered false, top offset, no publications', async () => {
  const ch = 'short:r-old';
  const epoch = await channelWith(ch, 10);
  const raw = await rawSession(ctx.server, { token: token() });
  const r = await rawSubscribe(raw, { channel: ch, recover: true, offset: 2, epoch });
  assert.equal(r.recovered, undefined, `recovered must be false (omitted): ${JSON.stringify(r)}`);
  assert.equal(r.was_recovering, true);
  assert.equal(r.epoch, epoch);
  assert.equal(offsetOf(r), 10);
  assert.ok(r.publications === undefined || r.publications.length === 0, JSON.stringify(r));

  // the last 3 are still there: recovering from offset 7 works
  const raw2 = await rawSession(ctx.server, { token: token() });
  const ok = await rawSubscribe(raw2, { channel: ch, recover: true, offset: 7, epoch });
  assert.equal(ok.recovered, true, JSON.stringify(ok));
  assert.equal(offsetOf(ok), 7);
  assert.deepEqual(offsets(ok.publications), [8, 9, 10]);
});

t('raw: recover in a channel never published to (offset 0, its epoch) → recovered', async () => {
  const ch = 'rec:r-empty';
  const raw = await rawSession(ctx.server, { token: token() });
  const first = await rawSubscribe(raw, { channel: ch });
  const raw2 = await rawSession(ctx.server, { token: token() });
  const r = await rawSubscribe(raw2, { channel: ch, recover: true, offset: 0, epoch: first.epoch });
  assert.equal(r.recovered, true, JSON.stringify(r));
  assert.equal(r.epoch, first.epoch);
  assert.equal(offsetOf(r), 0);
});

t('raw: positioned:true with allow_positioning → positioned result with epoch and top offset, not recoverable', async () => {
  const ch = 'pos:p1';
  const epoch = await channelWith(ch, 2);
  const raw = await rawSession(ctx.server, { token: token() });
  const r = await rawSubscribe(raw, { channel: ch, positioned: true });
  assert.equal(r.positioned, true, JSON.stringify(r));
  assert.equal(r.recoverable, undefined);
  assert.equal(r.epoch, epoch);
  assert.equal(offsetOf(r), 2);
  // live publications carry their offsets
  await publish(ctx.server, ch, { n: 3 });
  assert.deepEqual(await raw.push((p) => p.channel === ch), { push: { channel: ch, pub: { data: { n: 3 }, offset: 3 } } });

  // without the flag: a plain subscription
  const raw2 = await rawSession(ctx.server, { token: token() });
  assert.deepEqual(await rawSubscribe(raw2, { channel: ch }), {});
  // recoverable is not allowed there (no allow_recovery, no history permission)
  const raw3 = await rawSession(ctx.server, { token: token() });
  const r3 = await rawSubscribe(raw3, { channel: ch, recoverable: true });
  assert.equal(r3.recoverable, undefined, JSON.stringify(r3));
});

t('raw: recoverable:true with allow_recovery → recoverable and positioned; without it a plain subscription', async () => {
  const ch = 'arec:raw';
  const epoch = await channelWith(ch, 1);
  const raw = await rawSession(ctx.server, { token: token() });
  const r = await rawSubscribe(raw, { channel: ch, recoverable: true });
  assert.equal(r.recoverable, true, JSON.stringify(r));
  assert.equal(r.positioned, true);
  assert.equal(r.epoch, epoch);
  assert.equal(offsetOf(r), 1);
  const raw2 = await rawSession(ctx.server, { token: token() });
  assert.deepEqual(await rawSubscribe(raw2, { channel: ch }), {});
});

// ---------------------------------------------------------------------------------------------
// client history command

t('history: limit 0 → position only; limit, -1, since, reverse select the publications', async () => {
  const ch = 'hist:h1';
  const raw = await rawSession(ctx.server, { token: token(), channels: [ch] });
  const epoch = await channelWith(ch, 5);

  assert.deepEqual(await rawHistory(raw, { channel: ch }), { publications: [], epoch, offset: 5 });
  assert.deepEqual(await rawHistory(raw, { channel: ch, limit: 0 }), { publications: [], epoch, offset: 5 });

  const two = await rawHistory(raw, { channel: ch, limit: 2 });
  assert.deepEqual(two, {
    publications: [
      { data: { n: 1 }, offset: 1 },
      { data: { n: 2 }, offset: 2 },
    ],
    epoch,
    offset: 5,
  });
  assert.deepEqual(offsets((await rawHistory(raw, { channel: ch, limit: -1 })).publications), [1, 2, 3, 4, 5]);
  assert.deepEqual(offsets((await rawHistory(raw, { channel: ch, limit: 10, since: { offset: 2, epoch } })).publications), [3, 4, 5]);
  assert.deepEqual(offsets((await rawHistory(raw, { channel: ch, limit: 10, since: { offset: 0, epoch } })).publications), [1, 2, 3, 4, 5]);
  assert.deepEqual(offsets((await rawHistory(raw, { channel: ch, limit: 10, since: { offset: 5, epoch } })).publications), []);
  assert.deepEqual(offsets((await rawHistory(raw, { channel: ch, limit: 2, reverse: true })).publications), [5, 4]);
  assert.deepEqual(
    offsets((await rawHistory(raw, { channel: ch, limit: 10, since: { offset: 4, epoch }, reverse: true })).publications),
    [3, 2, 1],
  );
  const page = await rawHistory(raw, { channel: ch, limit: 2, since: { offset: 1, epoch } });
  assert.deepEqual(page.publications, [
    { data: { n: 2 }, offset: 2 },
    { data: { n: 3 }, offset: 3 },
  ]);
  assert.equal(page.epoch, epoch);
  assert.equal(page.offset, 5);
});

t('history: a client publication is stored with its publisher info', async () => {
  const ch = 'histclient:info';
  const raw = await rawSession(ctx.server, { token: token('9') });
  const r = await rawCall(raw, { publish: { channel: ch, data: { n: 1 } } });
  assert.deepEqual(r, { id: r.id, publish: {} });
  const h = await rawHistory(raw, { channel: ch, limit: -1 });
  assert.deepEqual(h.publications, [{ data: { n: 1 }, info: { user: '9', client: raw.client }, offset: 1 }]);
});

t('history: since with another epoch → 112 unrecoverable position', async () => {
  const ch = 'hist:h-epoch';
  const raw = await rawSession(ctx.server, { token: token(), channels: [ch] });
  const epoch = await channelWith(ch, 2);
  const r = await rawCall(raw, { history: { channel: ch, limit: 10, since: { offset: 1, epoch: `${epoch}x` } } });
  assertErrorReply(r, 112, 'unrecoverable position');
  assert.ok(raw.isOpen());
});

t('history: reverse with since.offset 0 → 107 bad request', async () => {
  const ch = 'hist:h-rev0';
  const raw = await rawSession(ctx.server, { token: token(), channels: [ch] });
  const epoch = await channelWith(ch, 2);
  const r = await rawCall(raw, { history: { channel: ch, limit: 10, since: { offset: 0, epoch }, reverse: true } });
  assertErrorReply(r, 107, 'bad request');
  assert.ok(raw.isOpen());
});

t('history permissions: not subscribed (for_subscriber) → 103; no permission → 103; off → 108; unknown → 102', async () => {
  const raw = await rawSession(ctx.server, { token: token(), channels: ['noperm:x'] });
  await channelWith('hist:h-notsub', 1);
  assertErrorReply(await rawCall(raw, { history: { channel: 'hist:h-notsub', limit: 1 } }), 103, 'permission denied');
  await publish(ctx.server, 'noperm:x', { n: 1 });
  assertErrorReply(await rawCall(raw, { history: { channel: 'noperm:x', limit: 1 } }), 103, 'permission denied');
  assertErrorReply(await rawCall(raw, { history: { channel: 'nohist:x', limit: 1 } }), 108, 'not available');
  assertErrorReply(await rawCall(raw, { history: { channel: 'nope:x', limit: 1 } }), 102, 'unknown channel');
  // allow_history_for_client: no subscription needed
  const h = await rawHistory(raw, { channel: 'histclient:any', limit: 1 });
  assert.deepEqual(h.publications, []);
  assert.ok(raw.isOpen(), 'error replies must not close the connection');
});

t('centrifuge-js history(): limit, reverse and since', async () => {
  const ch = 'hist:sdk';
  const c = newClient(ctx.server, { token: token('3') });
  await connected(c);
  const sub = newSubscription(c, ch);
  await subscribed(sub);
  const epoch = await channelWith(ch, 4);

  const pos = await sub.history({ limit: 0 });
  assert.deepEqual(pos.publications, []);
  assert.equal(pos.epoch, epoch);
  assert.equal(pos.offset, 4);

  const first = await sub.history({ limit: 2 });
  assert.deepEqual(
    first.publications.map((p) => [p.data.n, p.offset]),
    [
      [1, 1],
      [2, 2],
    ],
  );
  const last = await sub.history({ limit: 2, reverse: true });
  assert.deepEqual(
    last.publications.map((p) => p.data.n),
    [4, 3],
  );
  const since = await sub.history({ limit: 10, since: { offset: 2, epoch } });
  assert.deepEqual(
    since.publications.map((p) => p.data.n),
    [3, 4],
  );
  await assert.rejects(sub.history({ limit: 10, since: { offset: 1, epoch: 'other' } }), (err) => err.code === 112);
});

t('history_ttl 1s: publications expire, the stream position (offset, epoch) is kept', async () => {
  const ch = 'ttl:t1';
  const raw = await rawSession(ctx.server, { token: token() });
  const epoch = await channelWith(ch, 2);
  const published = Date.now();
  assert.deepEqual(offsets((await rawHistory(raw, { channel: ch, limit: -1 })).publications), [1, 2]);

  const h = await waitUntil(
    async () => {
      const r = await rawHistory(raw, { channel: ch, limit: -1 });
      return r.publications.length === 0 ? r : null;
    },
    { timeoutMs: 5000, intervalMs: 250, what: 'the publications to expire after history_ttl 1s' },
  );
  assert.ok(Date.now() - published >= 900, `publications expired after ${Date.now() - published} ms, before history_ttl`);
  assert.deepEqual(h, { publications: [], epoch, offset: 2 });

  // the stream continues from the kept position
  const next = await publish(ctx.server, ch, { n: 3 });
  assert.deepEqual(next, { offset: 3, epoch });
});
