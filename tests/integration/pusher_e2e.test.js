'use strict';
// The Pusher HTTP API end to end: the npm `pusher` SDK publishing as Laravel's pusher/reverb
// driver does, pusher-js and Laravel Echo (broadcasters `reverb` and `pusher`) receiving, with
// a Node stand-in for Laravel's /broadcasting/auth (lib/pusher.js of the WebSocket side); and
// Laravel's toOthers(): the socket_id sent with an event is left out, and only that socket.
//
// lib/pusher.js, pusher-js and laravel-echo come with the Pusher WebSocket side: until that is
// merged the file is reported as skipped, not passed.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test, describe, before, after } = require('node:test');
const Pusher = require('pusher');
const { startServer, defaultConfig, merge, assertCleanExit } = require('./lib/server');
const jwt = require('./lib/jwt');
const { clientOn, nextPublication } = require('./lib/client');
const { waitUntil, withTimeout } = require('./lib/wait');

const HAVE_WS_SIDE = fs.existsSync(path.join(__dirname, 'lib', 'pusher.js'));
const pj = HAVE_WS_SIDE ? require('./lib/pusher') : null;

let seq = 0;
const uniq = (p) => `${p}${process.pid}-${++seq}`;
describe('end to end: the pusher SDK to pusher-js and Laravel Echo', { skip: HAVE_WS_SIDE ? false : 'the Pusher WebSocket side (lib/pusher.js) is not merged yet' }, () => {
  let s;
  let backend;
  let sdk;
  before(async () => {
    s = await startServer(merge(defaultConfig(), { pusher: pj.pusherSection() }));
    backend = await pj.startAuthBackend();
    await pj.loadEcho();
    sdk = new Pusher({ appId: pj.APP.id, key: pj.APP.key, secret: pj.APP.secret, host: '127.0.0.1', port: String(s.port), useTLS: false });
  });
  after(async () => {
    pj.closeAll();
    await backend.stop();
    await assertCleanExit(s);
  });

  /** An Echo client of user listening to OrderShipped on private channel name; its socket id. */
  async function echoListening(user, broadcaster, name) {
    const echo = pj.newEcho(s, { user, backend, broadcaster });
    const socketId = await pj.connected(echo.connector.pusher);
    const got = [];
    const ch = echo.private(name);
    ch.listen('OrderShipped', (e) => got.push(e));
    await withTimeout(new Promise((resolve) => ch.subscribed(resolve)), 5000, `${user} subscribed`);
    return { echo, socketId, got };
  }

  test("Echo (reverb and pusher broadcasters) and a Centrifugo client get a triggered event; toOthers() leaves out only the sender's socket", async () => {
    const name = uniq('orders.');
    const ann = await echoListening('1', 'reverb', name);
    const bob = await echoListening('2', 'pusher', name);
    const { sub } = await clientOn(s, jwt.connToken(s.secret, 'c1'), `private-${name}`);
    const ev = 'App\\Events\\OrderShipped';

    await sdk.trigger(`private-${name}`, ev, JSON.stringify({ order_id: 1 }));
    await waitUntil(() => ann.got.length === 1 && bob.got.length === 1, { what: 'both Echo clients got order 1' });
    assert.deepEqual(ann.got[0], { order_id: 1 });
    assert.deepEqual(bob.got[0], { order_id: 1 });
    assert.deepEqual((await nextPublication(sub)).data, { order_id: 1 });

    // broadcast(...)->toOthers() from Ann's request: her socket_id goes with the event
    await sdk.trigger(`private-${name}`, ev, JSON.stringify({ order_id: 2 }), { socket_id: ann.socketId });
    // then a marker for everyone: Ann's next event must be the marker
    await sdk.trigger(`private-${name}`, ev, JSON.stringify({ order_id: 3 }));
    await waitUntil(() => bob.got.length === 3 && ann.got.length >= 2, { what: 'order 3 everywhere' });
    assert.deepEqual(bob.got.map((e) => e.order_id), [1, 2, 3]);
    assert.deepEqual(ann.got.map((e) => e.order_id), [1, 3]);
    assert.deepEqual((await nextPublication(sub)).data, { order_id: 2 });
    assert.deepEqual((await nextPublication(sub)).data, { order_id: 3 });
  });

  test('a pusher-js client gets the data string as sent, and the counts see Pusher connections', async () => {
    const name = uniq('presence-room.');
    const p1 = pj.newPusher(s, { user: '7', backend });
    const p2 = pj.newPusher(s, { user: '7', backend }); // the same user in a second tab
    await pj.connected(p1);
    await pj.connected(p2);
    const { ch } = await pj.subscribed(p1, name);
    await pj.subscribed(p2, name);
    const next = pj.nextEvent(ch, 'greeting');
    await sdk.trigger(name, 'greeting', 'plain text, not JSON');
    assert.equal((await next).data, 'plain text, not JSON');
    const info = await (await sdk.get({ path: `/channels/${name}`, params: { info: 'user_count,subscription_count' } })).json();
    assert.deepEqual(info, { occupied: true, user_count: 1, subscription_count: 2 });
    assert.deepEqual(await (await sdk.get({ path: `/channels/${name}/users` })).json(), { users: [{ id: '7' }] });
    const res = await sdk.trigger(name, 'x', '{}', { info: 'user_count' });
    assert.deepEqual(await res.json(), { channels: { [name]: { user_count: 1 } } });
    // terminate_connections closes both of user 7's sockets
    const closed = Promise.all([p1, p2].map((p) => new Promise((r) => p.connection.bind('state_change', (st) => st.current !== 'connected' && r()))));
    assert.equal((await sdk.terminateUserConnections('7')).status, 200);
    await withTimeout(closed, 5000, "user 7's connections closed");
  });
});
