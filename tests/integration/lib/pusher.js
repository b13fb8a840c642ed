'use strict';
// Pusher protocol clients for the tests: pusher-js and laravel-echo (broadcasters `pusher` and
// `reverb`) as a Laravel front end runs them, a Node stand-in for Laravel's /broadcasting/auth
// that signs like PusherBroadcaster (HMAC-SHA256 of "socket_id:channel[:channel_data]" with
// the app secret, user_id as a JSON string, 403 on denial), and a raw WebSocket client that
// sees every frame and close code.

const crypto = require('node:crypto');
const http = require('node:http');
const Pusher = require('pusher-js');
// laravel-echo 2 ships ES modules only (its CommonJS build is marked as a module): loadEcho()
// imports it once, before newEcho is used.
let Echo = null;
async function loadEcho() {
  if (!Echo) Echo = (await import('laravel-echo')).default;
  return Echo;
}
const { WebSocket } = require('./client');
const { withTimeout } = require('./wait');

const APP = { id: '640213', key: 'lucent-app-key', secret: 'lucent-app-secret-0123456789' };

/** The pusher section of a test config: one app (the fields of APP plus `extra`). */
function pusherSection(extra = {}, app = APP) {
  return { enabled: true, apps: [{ id: app.id, key: app.key, secret: app.secret, ...extra }] };
}

function sign(secret, text) {
  return crypto.createHmac('sha256', secret).update(text).digest('hex');
}

/**
 * Laravel's /broadcasting/auth, stood in for: the user comes from `Authorization: Bearer <id>`
 * (Echo's bearerToken); channels named `private-forbidden*` / `presence-forbidden*` are denied
 * with 403; presence channel_data is {"user_id":"<id>","user_info":{"name":"User <id>"}}.
 * `signWith` replaces the secret (a backend with the wrong secret).
 */
async function startAuthBackend({ app = APP, signWith } = {}) {
  const calls = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const socketId = form.get('socket_id');
      const channel = form.get('channel_name');
      const user = (req.headers.authorization || '').replace(/^Bearer /, '');
      calls.push({ socketId, channel, user });
      if (!user || /^(private|presence)-forbidden/.test(channel)) {
        res.writeHead(403, { 'Content-Type': 'application/json' });
        res.end('{"message":"This action is unauthorized."}');
        return;
      }
      const secret = signWith ?? app.secret;
      let out;
      if (channel.startsWith('presence-')) {
        const channelData = JSON.stringify({ user_id: user, user_info: { name: `User ${user}` } });
        out = { auth: `${app.key}:${sign(secret, `${socketId}:${channel}:${channelData}`)}`, channel_data: channelData };
      } else {
        out = { auth: `${app.key}:${sign(secret, `${socketId}:${channel}`)}` };
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(out));
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${srv.address().port}/broadcasting/auth`;
  return { url, calls, stop: () => new Promise((r) => srv.close(r)) };
}

const live = new Set();

/** A pusher-js client of `user` against the server, authorized by backend. */
function newPusher(server, { user, backend, app = APP, ...opts } = {}) {
  const p = new Pusher(app.key, {
    cluster: '',
    wsHost: '127.0.0.1',
    wsPort: server.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    channelAuthorization: backend
      ? { endpoint: backend.url, transport: 'ajax', headers: user ? { Authorization: `Bearer ${user}` } : {} }
      : undefined,
    ...opts,
  });
  live.add(p);
  return p;
}

/** Laravel Echo (broadcaster 'reverb' or 'pusher') of `user`, as resources/js/echo.js sets it up. */
function newEcho(server, { user, backend, broadcaster = 'reverb', app = APP } = {}) {
  if (!Echo) throw new Error('call loadEcho() first');
  const echo = new Echo({
    broadcaster,
    Pusher,
    key: app.key,
    cluster: broadcaster === 'pusher' ? 'mt1' : undefined,
    wsHost: '127.0.0.1',
    wsPort: server.port,
    wssPort: server.port,
    forceTLS: false,
    enabledTransports: ['ws', 'wss'],
    disableStats: true,
    authEndpoint: backend.url,
    bearerToken: user,
  });
  live.add(echo.connector.pusher);
  return echo;
}

function closeAll() {
  for (const p of live) {
    try {
      p.disconnect();
    } catch {
      /* gone */
    }
  }
  live.clear();
}

function connected(p, ms = 5000) {
  if (p.connection.state === 'connected') return Promise.resolve(p.connection.socket_id);
  return withTimeout(
    new Promise((resolve) => p.connection.bind('connected', () => resolve(p.connection.socket_id))),
    ms,
    'pusher-js connected',
  );
}

/** Resolves with the first event `name` on a pusher-js channel (data, metadata). */
function nextEvent(channel, name, ms = 5000) {
  return withTimeout(
    new Promise((resolve) => {
      const cb = (data, meta) => {
        channel.unbind(name, cb);
        resolve({ data, meta });
      };
      channel.bind(name, cb);
    }),
    ms,
    `event ${name} on ${channel.name}`,
  );
}

/** Subscribe and wait for success; rejects with the subscription error. */
function subscribed(p, name, ms = 5000) {
  const ch = p.subscribe(name);
  return withTimeout(
    new Promise((resolve, reject) => {
      ch.bind('pusher:subscription_succeeded', (d) => resolve({ ch, data: d }));
      ch.bind('pusher:subscription_error', (e) => reject(Object.assign(new Error(`subscription error on ${name}: ${JSON.stringify(e)}`), { info: e })));
    }),
    ms,
    `subscription to ${name}`,
  );
}

/**
 * A raw WebSocket to /app/{key}: every text frame parsed into msgs (data strings of pusher:
 * events parsed too, as .payload), next(pred) waits for a matching message, closed resolves
 * with {code, reason}.
 */
function rawPusher(server, { key = APP.key, query = '?protocol=7&client=js&version=8.6.0&flash=false', headers = {}, prefix = '' } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}${prefix}/app/${key}${query}`, { headers });
  const msgs = [];
  const waiters = [];
  const raw = { ws, msgs };
  raw.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('message', (buf) => {
    let m;
    try {
      m = JSON.parse(buf.toString());
      if (typeof m.data === 'string') {
        try {
          m.payload = JSON.parse(m.data);
        } catch {
          m.payload = m.data;
        }
      } else {
        m.payload = m.data;
      }
    } catch {
      m = { unparsable: buf.toString() };
    }
    msgs.push(m);
    for (const w of [...waiters]) if (w.pred(m)) w.hit(m);
  });
  raw.opened = new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  raw.next = (pred, ms = 5000, what = 'message') => {
    const seen = msgs.find((m) => !m.taken && pred(m));
    if (seen) {
      seen.taken = true;
      return Promise.resolve(seen);
    }
    return withTimeout(
      new Promise((resolve) => {
        const w = {
          pred,
          hit: (m) => {
            if (m.taken) return;
            m.taken = true;
            waiters.splice(waiters.indexOf(w), 1);
            resolve(m);
          },
        };
        waiters.push(w);
      }),
      ms,
      what,
    );
  };
  raw.event = (name, ms) => raw.next((m) => m.event === name, ms, name);
  raw.send = (obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  raw.established = async () => {
    const m = await raw.event('pusher:connection_established');
    raw.socketId = m.payload.socket_id;
    return m;
  };
  raw.close = () => ws.close();
  return raw;
}

/** Subscribe a raw connection (signing with app's secret unless auth is given). */
async function rawSubscribe(raw, channel, { app = APP, channelData, auth } = {}) {
  const data = { channel };
  if (channel.startsWith('private-') || channel.startsWith('presence-')) {
    const text = channelData ? `${raw.socketId}:${channel}:${channelData}` : `${raw.socketId}:${channel}`;
    data.auth = auth ?? `${app.key}:${sign(app.secret, text)}`;
    if (channelData) data.channel_data = channelData;
  }
  raw.send({ event: 'pusher:subscribe', data });
  return raw.next(
    (m) => m.channel === channel && (m.event === 'pusher_internal:subscription_succeeded' || m.event === 'pusher:subscription_error'),
    5000,
    `subscribe answer for ${channel}`,
  );
}

module.exports = { APP, Pusher, loadEcho, pusherSection, sign, startAuthBackend, newPusher, newEcho, closeAll, connected, nextEvent, subscribed, rawPusher, rawSubscribe };
