'use strict';
// Map writes with Centrifugo v6.8's extras on the memory engine: idempotency_key (a retry
// within the TTL writes nothing and answers the first result), version / version_epoch (stale
// writes dropped, a new epoch starts over), stream_data (what subscribers and the change stream
// get while the state keeps data, byte for byte), the delta hint (map subscribers get whole
// values), the map publish / remove proxy's result shaping a client's write (key, data, score,
// key_mode, tags, version, idempotency_key, stream_data) and a Lua publish hook doing the
// same, with the official client in JSON and Protobuf and a real Node backend as the proxy.

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { defaultConfig, merge, startServer, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, apiResult } = require('./lib/api');
const { newClient, connected, rawSession, rawCall, payload, valueOf } = require('./lib/client');
const { waitUntil } = require('./lib/wait');
const { events } = require('./lib/chan');
const { startBackend } = require('./lib/backend');

// A map write through the Lua publish hook: the key is the writer's "lua-<user>", the score
// its value's n, and subscribers get only what changed.
const SCRIPT = `
return {
    publish = function(ctx)
        if ctx.key ~= nil and ctx.channel:sub(1, 5) == "lmap:" and not ctx.removed then
            return {key = "lua-" .. ctx.user, score = ctx.data.n, stream_data = {n = ctx.data.n}}
        end
        return nil
    end,
}
`;

// The map proxy: the client's data says what the backend stamps on the write.
function mapProxy(r) {
  const j = r.json;
  if (j.removed) return { json: { result: { key: 'deal-7', idempotency_key: 'rm-1', tags: { src: 'proxy' } } } };
  const d = j.data || {};
  if (d.bad === 'key') return { json: { result: { key: 'k'.repeat(300) } } };
  if (d.bad === 'version') return { json: { result: { version: 'seven' } } };
  const result = {
    key: 'deal-7',
    data: { state: d.v },
    stream_data: { changed: d.v },
    score: d.v * 10,
    version: d.v,
    version_epoch: 'e1',
    tags: { src: 'proxy' },
    delta: true,
  };
  if (d.op) result.idempotency_key = d.op;
  if (d.mode) result.key_mode = d.mode;
  return { json: { result } };
}

const box = { server: null, backend: null };
before(async () => {
  box.backend = await startBackend({ '/map': mapProxy });
  const map = (mode, extra = {}) => ({ subscription_type: 'map', allow_subscribe_for_client: true, map: { mode, ...extra } });
  const config = merge(defaultConfig(), {
    lua: { script: 'hooks.lua' },
    proxies: [{ name: 'backend', endpoint: box.backend.url('/map'), timeout: '3s' }],
    channel: {
      namespaces: [
        { name: 'board', allowed_delta_types: ['fossil'], ...map('durable', { key_ttl: '300s', stream_size: 50 }) },
        { name: 'eph', ...map('ephemeral', { key_ttl: '60s' }) },
        {
          name: 'deals',
          ...map('persistent', {
            ordered: true,
            publish_proxy_enabled: true,
            publish_proxy_name: 'backend',
            remove_proxy_enabled: true,
            remove_proxy_name: 'backend',
          }),
        },
        { name: 'lmap', ...map('persistent', { allow_publish_for_subscriber: true, ordered: true }) },
      ],
    },
  });
  box.server = await startServer(config, { files: { 'hooks.lua': SCRIPT } });
});
after(async () => {
  if (box.server) await assertCleanExit(box.server);
});
const t = (name, fn) => test(name, () => withLogsOnFailure(box.server, fn));
const token = (user) => jwt.connToken(box.server.secret, user);

const mapPublish = (channel, key, data, extra = {}) => apiResult(box.server, 'map_publish', { channel, key, data, ...extra });

/** A connected SDK client of user with a map subscription to channel. */
async function mapMember(user, channel, { encoding, subOpts = {} } = {}) {
  const client = newClient(box.server, { token: token(user), encoding });
  await connected(client);
  const sub = client.newMapSubscription(channel, subOpts);
  const syncs = events(sub, 'sync');
  const updates = events(sub, 'update');
  sub.subscribe();
  await syncs.next();
  return { client, sub, syncs, updates };
}

/** The next update as [key, value, removed]. */
async function nextUpdate(m) {
  const u = await m.updates.next();
  return [u.key, u.removed ? null : valueOf(u.data), !!u.removed];
}

/** The API's state of channel as {key: [data, score]} (and the raw answer text). */
async function stateOf(channel) {
  const r = await api(box.server, 'map_read_state', { channel });
  assert.equal(r.status, 200, r.text);
  return { text: r.text, entries: Object.fromEntries(r.body.result.entries.map((e) => [e.key, [e.data, e.score || 0]])) };
}

const logged = (what) => waitUntil(() => box.server.logs().includes(what), { what: `log line "${what}"` });

for (const encoding of ['json', 'protobuf']) {
  t(`${encoding}: an idempotent retry answers the first result and is delivered once`, async () => {
    const ch = `board:idem-${encoding}`;
    const m = await mapMember('i1', ch, { encoding });
    const first = await mapPublish(ch, 'k', { n: 1 }, { idempotency_key: 'op-1' });
    const again = await mapPublish(ch, 'k', { n: 2 }, { idempotency_key: 'op-1' });
    assert.deepEqual(again, { offset: first.offset, epoch: first.epoch, suppressed: true, suppress_reason: 'idempotency' });
    const rm = await api(box.server, 'map_remove', { channel: ch, key: 'k', idempotency_key: 'rm-1' });
    assert.equal(rm.body.result.suppressed, undefined, rm.text);
    const rm2 = await api(box.server, 'map_remove', { channel: ch, key: 'k', idempotency_key: 'rm-1' });
    assert.deepEqual(rm2.body.result, { offset: rm.body.result.offset, epoch: first.epoch, suppressed: true, suppress_reason: 'idempotency' });
    await mapPublish(ch, 'end', { n: 9 }, { stream_data: null, version_epoch: null });
    assert.deepEqual(await nextUpdate(m), ['k', { n: 1 }, false]);
    assert.deepEqual(await nextUpdate(m), ['k', null, true]);
    assert.deepEqual(await nextUpdate(m), ['end', { n: 9 }, false]);
  });

  t(`${encoding}: stale versions are dropped (suppress_reason "version"), a new version_epoch starts over`, async () => {
    const ch = `board:ver-${encoding}`;
    const m = await mapMember('v1', ch, { encoding });
    const w5 = await mapPublish(ch, 'k', { v: 5 }, { version: 5 });
    assert.equal(w5.suppressed, undefined);
    const w3 = await mapPublish(ch, 'k', { v: 3 }, { version: 3 });
    assert.deepEqual(w3, { offset: w5.offset, epoch: w5.epoch, suppressed: true, suppress_reason: 'version' });
    // checked before key_mode: a stale if_new write is "version", not "key_exists"
    assert.equal((await mapPublish(ch, 'k', { v: 4 }, { version: 4, key_mode: 'if_new' })).suppress_reason, 'version');
    assert.equal((await mapPublish(ch, 'k', { v: 5 }, { version: 5, version_epoch: '' })).suppress_reason, 'version');
    // another epoch accepts a lower version, which then counts within that epoch
    assert.equal((await mapPublish(ch, 'k', { v: 1 }, { version: 1, version_epoch: 'reset' })).suppressed, undefined);
    assert.equal((await mapPublish(ch, 'k', { v: 1 }, { version: 1, version_epoch: 'reset' })).suppress_reason, 'version');
    assert.equal((await mapPublish(ch, 'k', { v: 2 }, { version: 2 })).suppressed, undefined);
    assert.deepEqual(await nextUpdate(m), ['k', { v: 5 }, false]);
    assert.deepEqual(await nextUpdate(m), ['k', { v: 1 }, false]);
    assert.deepEqual(await nextUpdate(m), ['k', { v: 2 }, false]);
    assert.deepEqual((await stateOf(ch)).entries, { k: [{ v: 2 }, 0] });
  });

  t(`${encoding}: stream_data reaches live subscribers byte for byte while the state and snapshots keep data`, async () => {
    const ch = `board:sd-${encoding}`;
    const m = await mapMember('s1', ch, { encoding, subOpts: { delta: 'fossil' } });
    const raw = await rawSession(box.server, { token: token('s2') });
    const live = await rawCall(raw, { subscribe: { channel: ch, type: 1, phase: 2, delta: 'fossil' } });
    assert.ok(live.subscribe && !live.subscribe.phase, JSON.stringify(live));
    assert.ok(!live.subscribe.delta, 'a map subscription negotiates no delta: values come whole');
    const body = `{"channel":"${ch}","key":"doc","data":{"all": [1, 2]},"stream_data":{"add" : 2.50},"delta":true}`;
    const r = await api(box.server, 'map_publish', null, { raw: body });
    assert.equal(r.status, 200, r.text);
    // the SDK gets stream_data; in Protobuf its exact bytes
    const u = await m.updates.next();
    assert.equal(u.key, 'doc');
    if (encoding === 'protobuf') assert.equal(new TextDecoder().decode(u.data), '{"add" : 2.50}');
    else assert.deepEqual(u.data, { add: 2.5 });
    // the JSON wire carries the bytes as sent
    const frame = await raw.frames.take((f) => String(f).includes('"key":"doc"'), 5000, 'the push');
    assert.ok(String(frame).includes('"data":{"add" : 2.50}'), String(frame));
    // the state (API and a new subscriber's snapshot) keeps data; the change stream stream_data
    const st = await stateOf(ch);
    assert.ok(st.text.includes('"data":{"all": [1, 2]}'), st.text);
    const rs = await api(box.server, 'map_read_stream', { channel: ch });
    assert.ok(rs.text.includes('"data":{"add" : 2.50}'), rs.text);
    const late = newClient(box.server, { token: token('s3'), encoding });
    await connected(late);
    const lsub = late.newMapSubscription(ch);
    const syncs = events(lsub, 'sync');
    lsub.subscribe();
    const sync = await syncs.next();
    assert.deepEqual(sync.entries.map((e) => [e.key, valueOf(e.data)]), [['doc', { all: [1, 2] }]]);
  });

  t(`${encoding}: the map proxy's result shapes a client write: key, data, stream_data, score, version, idempotency_key, key_mode, tags`, async () => {
    const ch = `deals:${encoding}`;
    const m = await mapMember('d1', ch, { encoding });
    box.backend.reset();
    await m.sub.publish('mine', payload({ v: 2, op: 'a' }, encoding));
    const req = await box.backend.next('/map');
    assert.deepEqual([req.json.channel, req.json.key, req.json.data, req.json.b64data], [ch, 'mine', { v: 2, op: 'a' }, undefined]);
    // subscribers get the proxy's stream_data under the proxy's key
    assert.deepEqual(await nextUpdate(m), ['deal-7', { changed: 2 }, false]);
    assert.deepEqual((await stateOf(ch)).entries, { 'deal-7': [{ state: 2 }, 20] });
    // version 1 is stale; op "a" again is a retry; if_exists on the existing key writes
    await m.sub.publish('mine', payload({ v: 1 }, encoding));
    await m.sub.publish('mine', payload({ v: 3, op: 'a' }, encoding));
    await m.sub.publish('mine', payload({ v: 4, mode: 'if_exists' }, encoding));
    assert.deepEqual(await nextUpdate(m), ['deal-7', { changed: 4 }, false]);
    assert.deepEqual((await stateOf(ch)).entries, { 'deal-7': [{ state: 4 }, 40] });
    const pub = await api(box.server, 'map_read_stream', { channel: ch });
    assert.ok(pub.text.includes('"tags":{"src":"proxy"}'), pub.text);
    // a removal takes the proxy's key and tags; its retry (rm-1) is answered from the first
    await m.sub.remove('whatever');
    assert.deepEqual(await nextUpdate(m), ['deal-7', null, true]);
    await m.sub.publish('mine', payload({ v: 5, mode: 'if_new' }, encoding));
    await m.sub.remove('again');
    assert.deepEqual(await nextUpdate(m), ['deal-7', { changed: 5 }, false]);
    assert.deepEqual((await stateOf(ch)).entries, { 'deal-7': [{ state: 5 }, 50] });
    await api(box.server, 'map_clear', { channel: ch });
  });
}

t('a proxy result Lucent cannot apply is refused with 100 and a log line', async () => {
  const m = await mapMember('b1', 'deals:bad');
  await assert.rejects(m.sub.publish('x', { bad: 'key' }), (e) => e.code === 100);
  await logged('has a key longer than map.max_key_length');
  await assert.rejects(m.sub.publish('x', { bad: 'version' }), (e) => e.code === 100);
  await logged('unusable answer');
  assert.deepEqual((await stateOf('deals:bad')).entries, {});
});

t('the Lua publish hook may set a map write\'s key, score and stream_data', async () => {
  const m = await mapMember('lu', 'lmap:1');
  await m.sub.publish('ignored', { n: 7, text: 'hello' });
  assert.deepEqual(await nextUpdate(m), ['lua-lu', { n: 7 }, false]);
  assert.deepEqual((await stateOf('lmap:1')).entries, { 'lua-lu': [{ n: 7, text: 'hello' }, 7] });
});

t('bad inputs are 107 with a log line: version, stream_data, idempotency_key, version_epoch, binary payloads', async () => {
  const ch = 'board:bad';
  const bad = async (params, field) => {
    const r = await api(box.server, 'map_publish', { channel: ch, key: 'k', data: {}, ...params });
    assert.equal(r.body.error?.code, 107, r.text);
    assert.ok(r.body.error.message.includes(field), r.text);
    await logged(`api map_publish from`);
    await logged(field);
  };
  await bad({ version: '5' }, 'version: expected an integer');
  await bad({ version: -1 }, 'version: integer out of range');
  await bad({ version: 1.5 }, 'version: integer out of range');
  await bad({ idempotency_key: 'i'.repeat(257) }, 'idempotency_key: longer than 256 bytes');
  await bad({ version: 2, version_epoch: 'e'.repeat(257) }, 'version_epoch: longer than 256 bytes');
  await bad({ delta: 'yes' }, 'delta');
  await bad({ b64stream_data: 'eyJ9' }, 'b64stream_data');
  const eph = await api(box.server, 'map_publish', { channel: 'eph:1', key: 'k', data: {}, version: 1 });
  assert.equal(eph.body.error?.code, 107, eph.text);
  assert.ok(eph.body.error.message.includes('needs map.mode durable or persistent'), eph.text);
  const rm = await api(box.server, 'map_remove', { channel: ch, key: 'k', idempotency_key: 7 });
  assert.equal(rm.body.error?.code, 107, rm.text);
  // stream_data that is not JSON makes the body none: 400 with 107
  const raw = `{"channel":"${ch}","key":"k","data":{},"stream_data":{oops}}`;
  const nj = await api(box.server, 'map_publish', null, { raw });
  assert.equal(nj.status, 400, nj.text);
  assert.equal(nj.body.error?.code, 107, nj.text);
  await logged('api map_publish: malformed JSON body');
  // nothing was written by any of them
  assert.deepEqual((await stateOf(ch)).entries, {});
});
