'use strict';
// Strict JSON at every entry point (proto/json_check.c): invalid UTF-8 and raw control
// characters are refused at the door and never reach subscribers or history, a channel name
// with \u0000 never reaches the channel it would be cut to, and payload bytes pass unchanged.

const assert = require('node:assert/strict');
const { test, before } = require('node:test');
const { startServer, defaultConfig, merge, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, request } = require('./lib/api');
const { rawSession, rawCall } = require('./lib/client');
const { emulationSession, emulate, uniHttpStream, uniSse, openStream } = require('./lib/stream');
const { sleep, withTimeout } = require('./lib/wait');

const HIST = { allow_subscribe_for_client: true, allow_publish_for_subscriber: true, allow_history_for_subscriber: true, history_size: 10, history_ttl: '300s' };

let server;
before(async () => {
  server = await startServer(
    merge(defaultConfig(), {
      channel: { namespaces: [...defaultConfig().channel.namespaces, { name: 'hist', ...HIST }] },
      sse: { enabled: true },
      http_stream: { enabled: true },
      uni_sse: { enabled: true },
      uni_http_stream: { enabled: true },
    }),
  );
});

const t = (name, fn) => test(name, () => withLogsOnFailure(server, fn));
const token = (user = '42') => jwt.connToken(server.secret, user);

/** Every raw text frame a client got so far, joined. */
const wire = (raw) => raw.frames.items.filter((f) => typeof f === 'string').join('\n');

/** The history of a channel as the raw text a subscribed client gets. */
async function historyText(channel) {
  const raw = await rawSession(server, { token: token('h'), channels: [channel] });
  const id = raw.cmd({ history: { channel, limit: 10 } });
  for (;;) {
    const frame = await raw.nextFrame();
    if (typeof frame === 'string' && frame.includes(`"id":${id}`)) return frame;
  }
}

/** Assert that nothing was published to channel: no push on the subscriber, empty history. */
async function assertNothingIn(sub, channel) {
  await sleep(200);
  assert.equal(sub.messages.items.filter((m) => m.push && m.push.pub).length, 0, `a publication reached ${channel}`);
  const hist = JSON.parse(await historyText(channel)).history;
  assert.ok(hist, 'history must answer');
  assert.deepEqual(hist.publications, [], `history of ${channel} holds publications`);
  assert.equal(hist.offset, 0);
}

t('a binary frame with bytes 0xff 0xfe inside a string is refused: 3501, nothing relayed or stored', async () => {
  const sub = await rawSession(server, { token: token('s'), channels: ['hist:bin'] });
  const pub = await rawSession(server, { token: token('p'), channels: ['hist:bin'] });
  const frame = Buffer.concat([
    Buffer.from('{"id":9,"publish":{"channel":"hist:bin","data":{"text":"'),
    Buffer.from([0xff, 0xfe]),
    Buffer.from('"}}}'),
  ]);
  pub.ws.send(frame, { binary: true });
  const closed = await withTimeout(pub.closed, 3000, 'the server to close the publisher');
  assert.equal(closed.code, 3501);
  await assertNothingIn(sub, 'hist:bin');
  assert.ok(sub.isOpen(), 'the subscriber must stay connected');
  assert.match(server.logs(), /invalid|bad request|malformed/i);
});

t('a raw 0x01 inside a string is refused: 3501, nothing relayed or stored', async () => {
  const sub = await rawSession(server, { token: token('s'), channels: ['hist:ctl'] });
  const pub = await rawSession(server, { token: token('p'), channels: ['hist:ctl'] });
  pub.ws.send('{"id":9,"publish":{"channel":"hist:ctl","data":{"text":"a\u0001b"}}}');
  assert.equal((await withTimeout(pub.closed, 3000, 'the server to close the publisher')).code, 3501);
  await assertNothingIn(sub, 'hist:ctl');
});

t('a client publish to "hist:room\\u0000x" does not reach hist:room', async () => {
  const sub = await rawSession(server, { token: token('s'), channels: ['hist:room'] });
  const pub = await rawSession(server, { token: token('p'), channels: ['hist:room'] });
  pub.ws.send('{"id":9,"publish":{"channel":"hist:room\\u0000x","data":{"t":1}}}');
  assert.equal((await withTimeout(pub.closed, 3000, 'the server to close the publisher')).code, 3501);
  await assertNothingIn(sub, 'hist:room');
});

t('an API publish to "hist:api\\u0000x" is 400 and does not reach hist:api', async () => {
  const sub = await rawSession(server, { token: token('s'), channels: ['hist:api'] });
  const r = await api(server, 'publish', null, { raw: '{"channel":"hist:api\\u0000x","data":{"t":1}}' });
  assert.equal(r.status, 400);
  const b = await api(server, 'batch', null, { raw: '{"commands":[{"publish":{"channel":"hist:api\\u0000x","data":{}}}]}' });
  assert.equal(b.status, 400);
  const legacy = await request(server, '/api', {
    method: 'POST',
    headers: { 'X-API-Key': server.apiKey, 'Content-Type': 'application/json' },
    body: '{"method":"publish","params":{"channel":"hist:api\\u0000x","data":{}}}',
  });
  assert.equal(legacy.status, 400);
  await assertNothingIn(sub, 'hist:api');
  // \u0000 inside the payload itself is data like any other
  const ok = await api(server, 'publish', null, { raw: '{"channel":"hist:api","data":{"t":"a\\u0000b"}}' });
  assert.equal(ok.status, 200);
  const push = await sub.push((p) => p.channel === 'hist:api');
  assert.equal(push.push.pub.data.t, 'a\u0000b');
});

t('the API refuses invalid UTF-8 and raw control characters in data with 400', async () => {
  const sub = await rawSession(server, { token: token('s'), channels: ['hist:apibad'] });
  for (const body of [
    Buffer.concat([Buffer.from('{"channel":"hist:apibad","data":{"t":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}}')]),
    Buffer.concat([Buffer.from('{"channel":"hist:apibad","data":{"t":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}}')]),
    Buffer.from('{"channel":"hist:apibad","data":{"t":"a\nb"}}'),
    Buffer.from('{"channel":"hist:apibad","data":{"t":"a\u0001"}}'),
  ]) {
    const r = await api(server, 'publish', null, { raw: body });
    assert.equal(r.status, 400, `accepted: ${body.toString('latin1')}`);
  }
  await assertNothingIn(sub, 'hist:apibad');
});

t('escaped CR/LF, unicode escapes and big numbers pass byte for byte to subscribers and history', async () => {
  const data = '{"text":"line1\\r\\nline2\\u2028","id":1234567890123456789,"price":12.50,"e":"\\u00e9\u00e9"}';
  const sub = await rawSession(server, { token: token('s'), channels: ['hist:exact'] });
  const pub = await rawSession(server, { token: token('p'), channels: ['hist:exact'] });
  pub.ws.send(`{"id":9,"publish":{"channel":"hist:exact","data":${data}}}`);
  assert.deepEqual(await pub.reply(9), { id: 9, publish: {} });
  const r = await api(server, 'publish', null, { raw: `{"channel":"hist:exact","data":${data}}` });
  assert.equal(r.status, 200);
  await sub.push((p) => p.channel === 'hist:exact');
  await sub.push((p) => p.channel === 'hist:exact');
  const got = wire(sub).split(`"data":${data}`).length - 1;
  assert.equal(got, 2, `both publications carry the exact bytes: ${wire(sub)}`);
  const hist = await historyText('hist:exact');
  assert.equal(hist.split(`"data":${data}`).length - 1, 2, hist);
});

t('raw CR whitespace in data is kept byte for byte; raw LF (framing) is the only byte dropped', async () => {
  const sub = await rawSession(server, { token: token('s'), channels: ['hist:ws'] });
  const r = await api(server, 'publish', null, { raw: '{"channel":"hist:ws","data":{"a":\r\n1,\r"b":\n2}}' });
  assert.equal(r.status, 200);
  const push = await sub.push((p) => p.channel === 'hist:ws');
  assert.deepEqual(push.push.pub.data, { a: 1, b: 2 });
  assert.ok(wire(sub).includes('"data":{"a":\r1,\r"b":2}'), JSON.stringify(wire(sub)));
  assert.ok((await historyText('hist:ws')).includes('"data":{"a":\r1,\r"b":2}'));
});

t('SSE carries a payload with raw CR as a multi-line event that parses to the same value', async () => {
  const s = await openStream(server, `/connection/sse?cf_connect=${encodeURIComponent(JSON.stringify({ id: 1, connect: { token: token('sse') } }))}`, {
    method: 'GET',
    format: 'sse',
  });
  assert.equal(s.status, 200);
  const first = await s.next();
  assert.ok(first.connect, JSON.stringify(first));
  const sid = first.connect.session;
  const node = first.connect.node;
  const r = await emulate(server, { session: sid, node, data: '{"id":2,"subscribe":{"channel":"hist:sse"}}' });
  assert.equal(r.status, 204);
  await s.take((m) => m.id === 2);
  assert.equal((await api(server, 'publish', null, { raw: '{"channel":"hist:sse","data":{"a":\r1}}' })).status, 200);
  const push = await s.take((m) => m.push && m.push.channel === 'hist:sse');
  assert.deepEqual(push.push.pub.data, { a: 1 });
  assert.equal(s.invalid.length, 0, JSON.stringify(s.invalid));
});

t('POST /emulation with invalid JSON, invalid UTF-8 or \\u0000 in its strings is 400', async () => {
  const em = await emulationSession(server, { connect: { token: token('emu') } });
  for (const body of [
    '{"session":"x","node":"y","data":',
    Buffer.concat([Buffer.from(`{"session":"${em.session}","node":"${em.node}","data":"{\\"id\\":5}`), Buffer.from([0xff]), Buffer.from('"}')]),
    `{"session":"${em.session}","node":"${em.node}","data":"{\\"id\\":5,\\"subscribe\\":{\\"channel\\":\\"hist:em\\"}}\\u0000x"}`,
    `{"session":"${em.session}\\u0000","node":"${em.node}","data":"{}"}`,
  ]) {
    const r = await emulate(server, body);
    assert.equal(r.status, 400, `accepted: ${body.toString()}`);
  }
  // a valid body after the refused ones still works
  const reply = await em.call({ subscribe: { channel: 'hist:em' } });
  assert.ok(reply.subscribe, JSON.stringify(reply));
});

t('a unidirectional connect request with invalid UTF-8 or \\u0000 in a name is 400', async () => {
  const bad = Buffer.concat([Buffer.from('{"token":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
  const s1 = await uniHttpStream(server, bad);
  assert.equal(s1.status, 400);
  const s2 = await uniHttpStream(server, '{"token":"a\\u0000b"}');
  assert.equal(s2.status, 400);
  const s3 = await uniSse(server, undefined, { path: `/connection/uni_sse?cf_connect=${encodeURIComponent('{"name":"\u0001"}')}` });
  assert.equal(s3.status, 400);
  // a valid one connects
  const ok = await uniHttpStream(server, { token: token('u') });
  assert.equal(ok.status, 200);
  assert.ok((await ok.next()).connect);
});
