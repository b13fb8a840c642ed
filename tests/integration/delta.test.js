'use strict';
// Fossil delta compression (spec §1.7): negotiated with subscribe `delta: "fossil"` where the
// namespace allows it; the first publication goes whole, later ones as fossil deltas against
// the channel's previous publication (made once per publication), in JSON (data as a JSON
// string) and in Protobuf; the official client decodes every one to the exact published data.

const assert = require('node:assert/strict');
const { test, before, after, describe } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api } = require('./lib/api');
const { newClient, connected, newSubscription, subscribed, nextPublication, rawSession, payload, valueOf } = require('./lib/client');
const { pbConnect, commands } = require('./lib/pb');
const { sleep } = require('./lib/wait');

const ctx = { server: null };
before(async () => {
  ctx.server = await startServer(
    merge(defaultConfig(), {
      channel: {
        namespaces: [
          // deltas when the publisher asks (API publish `delta: true`)
          { name: 'doc', allow_subscribe_for_client: true, allowed_delta_types: ['fossil'], history_size: 1, history_ttl: '60s', force_positioning: true },
          // deltas for every publication (delta_publish), with recovery
          {
            name: 'live',
            allow_subscribe_for_client: true,
            allow_publish_for_subscriber: true,
            allow_history_for_subscriber: true,
            allowed_delta_types: ['fossil'],
            delta_publish: true,
            history_size: 10,
            history_ttl: '60s',
            force_recovery: true,
          },
          // no deltas allowed here
          { name: 'plain', allow_subscribe_for_client: true, history_size: 5, history_ttl: '60s', force_positioning: true },
        ],
      },
    }),
  );
});
after(async () => {
  if (ctx.server) await assertCleanExit(ctx.server);
});

let seq = 0;
const uniq = (p) => `${p}${process.pid}x${++seq}`;
const token = (user = '42') => jwt.connToken(ctx.server.secret, user);

/** A 2 KB document: a list of items, one of which changes a few bytes per publication. */
function documentAt(step) {
  const items = [];
  for (let i = 0; i < 40; i++) items.push({ id: i, name: `item-${i}`, value: i === step % 40 ? step : i * 7, tag: 'ünïcode' });
  return { step, items };
}

for (const encoding of ['json', 'protobuf']) {
  describe(`fossil delta, ${encoding}`, () => {
    const t = (name, fn) => test(name, () => withLogsOnFailure(ctx.server, fn));

    t('subscribe result says delta; 60 small changes to a 2 KB document decode exactly', async () => {
      const ch = uniq('doc:');
      const c = newClient(ctx.server, { token: token(), encoding });
      await connected(c);
      const sub = newSubscription(c, ch, { delta: 'fossil' });
      const sctx = await subscribed(sub);
      assert.equal(sub._delta_negotiated, true, 'delta negotiated');
      assert.equal(sctx.positioned, true);
      for (let step = 0; step < 60; step++) {
        const doc = documentAt(step);
        const r = await api(ctx.server, 'publish', { channel: ch, data: doc, delta: true });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        const pub = await nextPublication(sub);
        assert.deepEqual(valueOf(pub.data), doc, `step ${step}`);
      }
      // the SDK counts what came as deltas: all but the first
      assert.equal(sub._deltaNumFull, 1);
      assert.equal(sub._deltaNumDelta, 59);
      assert.ok(sub._deltaBytesReceived * 5 < sub._deltaBytesDecoded, `received ${sub._deltaBytesReceived} for ${sub._deltaBytesDecoded}`);
    });

    t('delta_publish: client publications too; a late subscriber starts whole; recovery keeps working', async () => {
      const ch = uniq('live:');
      const a = newClient(ctx.server, { token: token('1'), encoding });
      await connected(a);
      const sa = newSubscription(a, ch, { delta: 'fossil' });
      await subscribed(sa);
      for (let step = 0; step < 5; step++) {
        await sa.publish(payload(documentAt(step), encoding));
        assert.deepEqual(valueOf((await nextPublication(sa)).data), documentAt(step));
      }
      const b = newClient(ctx.server, { token: token('2'), encoding });
      await connected(b);
      const sb = newSubscription(b, ch, { delta: 'fossil', since: { offset: 3, epoch: (await sa.history({ limit: 0 })).epoch } });
      const bctx = await subscribed(sb);
      assert.equal(bctx.recovered, true);
      assert.deepEqual(valueOf((await nextPublication(sb)).data), documentAt(3));
      assert.deepEqual(valueOf((await nextPublication(sb)).data), documentAt(4));
      for (let step = 5; step < 15; step++) {
        await sa.publish(payload(documentAt(step), encoding));
        assert.deepEqual(valueOf((await nextPublication(sa)).data), documentAt(step));
        assert.deepEqual(valueOf((await nextPublication(sb)).data), documentAt(step));
      }
      assert.ok(sa._deltaNumDelta >= 13, `a got ${sa._deltaNumDelta} deltas`);
      assert.ok(sb._deltaNumDelta >= 9, `b got ${sb._deltaNumDelta} deltas`);
    });

    t('skip_history in between and a publication without delta: every one still decodes', async () => {
      const ch = uniq('doc:');
      const c = newClient(ctx.server, { token: token(), encoding });
      await connected(c);
      const sub = newSubscription(c, ch, { delta: 'fossil' });
      await subscribed(sub);
      const plan = [{ delta: true }, { delta: true }, { delta: true, skip_history: true }, { delta: true }, {}, { delta: true }, { delta: true }];
      for (let step = 0; step < plan.length; step++) {
        await api(ctx.server, 'publish', { channel: ch, data: documentAt(step), ...plan[step] });
        assert.deepEqual(valueOf((await nextPublication(sub)).data), documentAt(step), `step ${step}`);
      }
      assert.ok(sub._deltaNumDelta >= 2, `${sub._deltaNumDelta} deltas`);
    });

    t('a namespace without allowed_delta_types: delta not negotiated, publications whole', async () => {
      const ch = uniq('plain:');
      const c = newClient(ctx.server, { token: token(), encoding });
      await connected(c);
      const sub = newSubscription(c, ch, { delta: 'fossil' });
      await subscribed(sub);
      assert.equal(sub._delta_negotiated, false);
      await api(ctx.server, 'publish', { channel: ch, data: documentAt(1), delta: true });
      assert.deepEqual(valueOf((await nextPublication(sub)).data), documentAt(1));
    });
  });
}

test('wire: JSON delta subscriber gets data as a string with delta true; plain subscribers unchanged', () =>
  withLogsOnFailure(ctx.server, async () => {
    const ch = uniq('doc:');
    const raw = await rawSession(ctx.server, { token: token() });
    const id = raw.cmd({ subscribe: { channel: ch, delta: 'fossil' } });
    const rep = await raw.reply(id);
    assert.equal(rep.subscribe.delta, true, JSON.stringify(rep));
    const plain = await rawSession(ctx.server, { token: token(), channels: [ch] });
    await api(ctx.server, 'publish', { channel: ch, data: { a: 1, text: 'x'.repeat(100) }, delta: true });
    const first = await raw.push((p) => p.pub);
    assert.equal(typeof first.push.pub.data, 'string');
    assert.equal(first.push.pub.delta, false);
    assert.deepEqual(JSON.parse(first.push.pub.data), { a: 1, text: 'x'.repeat(100) });
    assert.deepEqual((await plain.push((p) => p.pub)).push.pub.data, { a: 1, text: 'x'.repeat(100) });
    await api(ctx.server, 'publish', { channel: ch, data: { a: 2, text: 'x'.repeat(100) }, delta: true });
    const second = await raw.push((p) => p.pub);
    assert.equal(second.push.pub.delta, true);
    assert.ok(second.push.pub.data.length < 40, second.push.pub.data);
    const p2 = (await plain.push((p) => p.pub)).push.pub;
    assert.deepEqual(p2.data, { a: 2, text: 'x'.repeat(100) });
    assert.equal(p2.delta, undefined);
  }));

test('an unknown delta type is a bad request (3501)', () =>
  withLogsOnFailure(ctx.server, async () => {
    const raw = await rawSession(ctx.server, { token: token() });
    raw.cmd({ subscribe: { channel: uniq('doc:'), delta: 'xdelta' } });
    assert.equal((await raw.closed).code, 3501);
  }));

test('Protobuf wire: a delta publication carries the fossil delta bytes and delta true', () =>
  withLogsOnFailure(ctx.server, async () => {
    const ch = uniq('doc:');
    const pb = await pbConnect(ctx.server);
    pb.send(commands({ id: 1, connect: { token: token() } }, { id: 2, subscribe: { channel: ch, delta: 'fossil' } }));
    await pb.reply(1);
    assert.equal((await pb.reply(2)).subscribe.delta, true);
    await api(ctx.server, 'publish', { channel: ch, data: { v: 'a'.repeat(80) }, delta: true });
    const p1 = await pb.push((p) => p.pub);
    assert.equal(Buffer.from(p1.pub.data).toString(), JSON.stringify({ v: 'a'.repeat(80) }));
    assert.ok(!p1.pub.delta);
    await api(ctx.server, 'publish', { channel: ch, data: { v: 'a'.repeat(79) + 'b' }, delta: true });
    const p2 = await pb.push((p) => p.pub);
    assert.equal(p2.pub.delta, true);
    assert.match(Buffer.from(p2.pub.data).toString(), /^[0-9A-Za-z_~]+\n/);
    await sleep(10);
  }));
