'use strict';
// Leaving the sender out of a fan-out, three routes (DESIGN.md "Excluding the sender"):
//   1. the server API's exclude_client (one id or a list) and exclude_user (every connection
//      of that user, on every worker);
//   2. the config switch http_api.exclude_client_field: an API publish whose data holds the
//      sender's client id in that field (Laravel's toOthers(): `socket`) is not delivered to
//      that client, and everyone else — and history — gets the data without the field;
//   3. a Lua hook: a broadcast hook setting pub.exclude_client / pub.exclude_user (the
//      lucent.laravel to_others helper, examples/lua/laravel_to_others.lua), or a publish hook
//      leaving a client's publication out of its own connection.
// "Not delivered" is shown with a marker: one connection's publications on a channel keep
// their order, so when the next one an excluded connection gets is the marker published after
// the excluded one, it never got the excluded one.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test, describe, before, after } = require('node:test');
const { REPO_ROOT, startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish } = require('./lib/api');
const { newClient, connected, newSubscription, subscribed, nextPublication, rawSession, rawCall } = require('./lib/client');

let seq = 0;
const uniq = (prefix) => `${prefix}${process.pid}x${++seq}`;

const namespaces = [
  { name: 'chat', allow_subscribe_for_client: true, allow_publish_for_subscriber: true },
  { name: 'hist', allow_subscribe_for_client: true, history_size: 10, history_ttl: '60s' },
  { name: 'hx', allow_subscribe_for_client: true, history_size: 10, history_ttl: '60s' },
];

/** Raw connections of users (by token) subscribed to channels. */
function sessions(server, users, channels) {
  return Promise.all(users.map((u) => rawSession(server, { token: jwt.connToken(server.secret, u), channels })));
}

/** The next publication push on channel for a raw connection. */
const nextPub = (raw, channel, ms = 5000) =>
  raw.push((p) => p.channel === channel && p.pub, ms, `publication on ${channel}`).then((m) => m.push);

/** Publish a marker on channel: every connection in `skipped` must see the marker next. */
async function assertSkipped(server, channel, skipped, others = []) {
  const marker = { marker: uniq('m') };
  await publish(server, channel, marker);
  for (const raw of [...skipped, ...others]) {
    const p = await nextPub(raw, channel);
    if (skipped.includes(raw)) {
      assert.deepEqual(p.pub.data, marker, `connection ${raw.client} got a publication it was left out of: ${JSON.stringify(p.pub.data)}`);
    } else {
      assert.deepEqual(p.pub.data, marker);
    }
  }
}

/** The data of a channel's history, oldest first. */
async function historyData(server, channel) {
  const h = await api(server, 'history', { channel, limit: 10 });
  assert.ok(h.body.result, h.text);
  return (h.body.result.publications ?? []).map((p) => p.data);
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: the server API and the config switch (no Lua)

describe('server API exclusions and http_api.exclude_client_field', () => {
  const box = { server: null };
  before(async () => {
    box.server = await startServer(
      merge(defaultConfig(), {
        workers: 2,
        http_api: { exclude_client_field: 'socket' },
        channel: { namespaces },
      }),
    );
  });
  after(async () => {
    if (box.server) await assertCleanExit(box.server);
  });
  const t = (name, fn, opts = {}) => test(name, opts, () => withLogsOnFailure(box.server, fn));

  t('exclude_client (one id, a list): the listed clients are left out', async () => {
    const ch = `chat:${uniq('ec')}`;
    const [a, b, c] = await sessions(box.server, ['1', '2', '3'], [ch]);
    await publish(box.server, ch, { n: 1 }, { exclude_client: a.client });
    assert.deepEqual((await nextPub(b, ch)).pub.data, { n: 1 });
    assert.deepEqual((await nextPub(c, ch)).pub.data, { n: 1 });
    await assertSkipped(box.server, ch, [a], [b, c]);

    await publish(box.server, ch, { n: 2 }, { exclude_client: [a.client, c.client] });
    assert.deepEqual((await nextPub(b, ch)).pub.data, { n: 2 });
    await assertSkipped(box.server, ch, [a, c], [b]);
  });

  t('exclude_user: every connection of that user is left out, on every worker', async () => {
    const ch = `chat:${uniq('eu')}`;
    const u1 = uniq('u');
    const u2 = uniq('u');
    const mine = await sessions(box.server, [u1, u1, u1, u1], [ch]);
    const [other] = await sessions(box.server, [u2], [ch]);
    await publish(box.server, ch, { to: 'not u1' }, { exclude_user: u1 });
    assert.deepEqual((await nextPub(other, ch)).pub.data, { to: 'not u1' });
    await assertSkipped(box.server, ch, mine, [other]);

    // a list, through broadcast on two channels
    const ch2 = `chat:${uniq('eu2')}`;
    for (const raw of [...mine, other]) assert.ok((await rawCall(raw, { subscribe: { channel: ch2 } })).subscribe);
    const r = await api(box.server, 'broadcast', { channels: [ch, ch2], data: { to: 'nobody' }, exclude_user: [u1, u2] });
    assert.equal(r.body.result?.responses?.length, 2, r.text);
    await assertSkipped(box.server, ch, [...mine, other]);
    await assertSkipped(box.server, ch2, [...mine, other]);
  });

  t('the socket field: not delivered to that client; the others receive the data without the field', async () => {
    const ch = `chat:${uniq('sf')}`;
    const [a, b, c] = await sessions(box.server, ['1', '2', '3'], [ch]);
    const r = await api(box.server, 'publish', { channel: ch, data: { event: 'x', socket: a.client } });
    assert.ok(r.body.result, r.text);
    assert.deepEqual((await nextPub(b, ch)).pub.data, { event: 'x' });
    assert.deepEqual((await nextPub(c, ch)).pub.data, { event: 'x' });
    await assertSkipped(box.server, ch, [a], [b, c]);
  });

  t('the socket field is cut out of the text: numbers past 2^53, 12.50, unicode escapes and nested objects stay byte for byte', async () => {
    const ch = `hx:${uniq('bx')}`;
    const [a, b] = await sessions(box.server, ['1', '2'], [ch]);
    const kept = '"id":1234567890123456789,"price":12.50,"name":"caf\\u00e9 \\ud83d\\ude00","n":{"socket":"inner","a":[1.0,{"b":"}"}]}';
    const want = `{${kept}}`;
    const r = await api(box.server, 'publish', null, { raw: `{"channel":"${ch}","data":{${kept},"socket":"${a.client}"}}` });
    assert.ok(r.body.result, r.text);
    let frame;
    do frame = await b.nextFrame(5000);
    while (!frame.includes('"pub"') || !frame.includes(ch));
    assert.ok(frame.includes(`"data":${want}`), frame);
    await nextPub(b, ch); // the same publication, parsed
    const h = await api(box.server, 'history', { channel: ch, limit: 10 });
    assert.ok(h.text.includes(`"data":${want}`), h.text);
    await assertSkipped(box.server, ch, [a], [b]);
  });

  t('the socket field with centrifuge-js: the sender\'s own tab does not get its event', async () => {
    const ch = `chat:${uniq('sdk')}`;
    const tabs = [];
    for (const u of ['1', '2']) {
      const c = newClient(box.server, { token: jwt.connToken(box.server.secret, u) });
      const cc = await connected(c);
      const sub = newSubscription(c, ch);
      await subscribed(sub);
      tabs.push({ c, sub, client: cc.client });
    }
    await publish(box.server, ch, { event: 'OrderShipped', socket: tabs[0].client, order: 7 });
    assert.deepEqual((await nextPublication(tabs[1].sub)).data, { event: 'OrderShipped', order: 7 });
    await publish(box.server, ch, { event: 'marker' });
    assert.deepEqual((await nextPublication(tabs[0].sub)).data, { event: 'marker' });
    assert.deepEqual((await nextPublication(tabs[1].sub)).data, { event: 'marker' });
  });

  t('history stores the publication without the socket field', async () => {
    const ch = `hist:${uniq('h')}`;
    const [a] = await sessions(box.server, ['1'], [ch]);
    await publish(box.server, ch, { event: 'x', socket: a.client, n: 1 });
    await publish(box.server, ch, { event: 'y', n: 2 });
    assert.deepEqual(await historyData(box.server, ch), [
      { event: 'x', n: 1 },
      { event: 'y', n: 2 },
    ]);
  });

  t('an API broadcast with the socket field: the sender is left out on every channel', async () => {
    const ch1 = `chat:${uniq('b1')}`;
    const ch2 = `hist:${uniq('b2')}`;
    const [a, b] = await sessions(box.server, ['1', '2'], [ch1, ch2]);
    const r = await api(box.server, 'broadcast', { channels: [ch1, ch2], data: { event: 'both', socket: a.client } });
    assert.equal(r.body.result?.responses?.length, 2, r.text);
    assert.deepEqual((await nextPub(b, ch1)).pub.data, { event: 'both' });
    assert.deepEqual((await nextPub(b, ch2)).pub.data, { event: 'both' });
    await assertSkipped(box.server, ch1, [a], [b]);
    await assertSkipped(box.server, ch2, [a], [b]);
    assert.deepEqual((await historyData(box.server, ch2))[0], { event: 'both' });
  });

  t('the socket field together with exclude_client: both clients are left out', async () => {
    const ch = `chat:${uniq('both')}`;
    const [a, b, c] = await sessions(box.server, ['1', '2', '3'], [ch]);
    await publish(box.server, ch, { event: 'z', socket: a.client }, { exclude_client: b.client });
    assert.deepEqual((await nextPub(c, ch)).pub.data, { event: 'z' });
    await assertSkipped(box.server, ch, [a, b], [c]);
  });

  t('no socket field, an empty or non-string one, data that is no object: nobody is left out', async () => {
    const ch = `chat:${uniq('ns')}`;
    const [a, b] = await sessions(box.server, ['1', '2'], [ch]);
    const cases = [
      [{ event: 'plain' }, { event: 'plain' }],
      [{ event: 'null', socket: null }, { event: 'null' }],
      [{ event: 'empty', socket: '' }, { event: 'empty' }],
      [{ event: 'num', socket: 42 }, { event: 'num' }],
      [['socket', a.client], ['socket', a.client]],
      ['just text', 'just text'],
    ];
    for (const [data, want] of cases) {
      await publish(box.server, ch, data);
      for (const raw of [a, b]) assert.deepEqual((await nextPub(raw, ch)).pub.data, want, JSON.stringify(data));
    }
  });

  t('a client\'s own publish keeps a socket field: the switch is for the server API only', async () => {
    const ch = `chat:${uniq('cp')}`;
    const [a, b] = await sessions(box.server, ['1', '2'], [ch]);
    const r = await rawCall(a, { publish: { channel: ch, data: { text: 'hi', socket: a.client } } });
    assert.ok(r.publish, JSON.stringify(r));
    for (const raw of [a, b]) assert.deepEqual((await nextPub(raw, ch)).pub.data, { text: 'hi', socket: a.client });
  });
});

// ---------------------------------------------------------------------------------------------
// 3: Lua hooks

describe('exclusions from Lua hooks', () => {
  const box = { server: null };
  before(async () => {
    box.server = await startServer(
      merge(defaultConfig(), {
        workers: 2,
        channel: { namespaces },
        lua: { script: 'exclusion.lua' },
      }),
      { files: { 'exclusion.lua': fs.readFileSync(path.join(__dirname, 'lua', 'exclusion.lua'), 'utf8') } },
    );
  });
  after(async () => {
    if (box.server) await assertCleanExit(box.server);
  });
  const t = (name, fn, opts = {}) => test(name, opts, () => withLogsOnFailure(box.server, fn));

  t('broadcast hook with laravel.to_others: the socket\'s client is left out, the field removed (history too)', async () => {
    const ch = `hist:${uniq('lo')}`;
    const [a, b, c] = await sessions(box.server, ['1', '2', '3'], [ch]);
    await publish(box.server, ch, { event: 'OrderShipped', socket: a.client });
    assert.deepEqual((await nextPub(b, ch)).pub.data, { event: 'OrderShipped' });
    assert.deepEqual((await nextPub(c, ch)).pub.data, { event: 'OrderShipped' });
    await assertSkipped(box.server, ch, [a], [b, c]);
    assert.deepEqual((await historyData(box.server, ch))[0], { event: 'OrderShipped' });
  });

  t('API exclude_client and the hook\'s socket together: both clients are left out', async () => {
    const ch = `chat:${uniq('lb')}`;
    const [a, b, c] = await sessions(box.server, ['1', '2', '3'], [ch]);
    await publish(box.server, ch, { event: 'e', socket: a.client }, { exclude_client: b.client });
    assert.deepEqual((await nextPub(c, ch)).pub.data, { event: 'e' });
    await assertSkipped(box.server, ch, [a, b], [c]);
  });

  t('broadcast hook pub.exclude_client (a list) and pub.exclude_user', async () => {
    const ch = `hx:${uniq('hx')}`;
    const u = uniq('u');
    const [a, b, c] = await sessions(box.server, ['1', '2', '3'], [ch]);
    const mine = await sessions(box.server, [u, u, u], [ch]);
    await publish(box.server, ch, { n: 1, skip_client: [a.client, b.client] });
    for (const raw of [c, ...mine]) assert.deepEqual((await nextPub(raw, ch)).pub.data, { n: 1 });
    await assertSkipped(box.server, ch, [a, b], [c, ...mine]);

    await publish(box.server, ch, { n: 2, skip_user: u });
    for (const raw of [a, b, c]) assert.deepEqual((await nextPub(raw, ch)).pub.data, { n: 2 });
    await assertSkipped(box.server, ch, mine, [a, b, c]);
    assert.deepEqual((await historyData(box.server, ch)).slice(0, 1), [{ n: 1 }]);
  });

  t('publish hook pub.exclude_client = ctx.client: a client\'s publication does not come back to it', async () => {
    const ch = `chat:${uniq('nm')}`;
    const [a, b] = await sessions(box.server, ['1', '2'], [ch]);
    const r = await rawCall(a, { publish: { channel: ch, data: { text: 'hi', not_me: true } } });
    assert.ok(r.publish, JSON.stringify(r));
    assert.deepEqual((await nextPub(b, ch)).pub.data, { text: 'hi' });
    await assertSkipped(box.server, ch, [a], [b]);
  });
});

// ---------------------------------------------------------------------------------------------
// the shipped example

test('examples/lua/laravel_to_others.lua works as shipped (lua.script by absolute path)', async () => {
  const script = path.join(REPO_ROOT, 'examples', 'lua', 'laravel_to_others.lua');
  const server = await startServer(merge(defaultConfig(), { channel: { namespaces }, lua: { script } }));
  try {
    await withLogsOnFailure(server, async () => {
      const ch = `chat:${uniq('ex')}`;
      const [a, b] = await sessions(server, ['1', '2'], [ch]);
      await publish(server, ch, { event: 'x', socket: a.client });
      assert.deepEqual((await nextPub(b, ch)).pub.data, { event: 'x' });
      await assertSkipped(server, ch, [a], [b]);
    });
  } finally {
    await assertCleanExit(server);
  }
});
