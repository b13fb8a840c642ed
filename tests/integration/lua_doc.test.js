'use strict';
// Every `lua` example of docs/lua.md runs against a real server: the test reads the page, takes
// each ```lua block (each must follow an `<!-- example: NAME -->` marker and have a check
// here), starts lucent with it as the script and checks what the page says it does. A block
// without a marker, a marker without a check, or a check without a block fails.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { test } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish } = require('./lib/api');
const { rawConnect, rawCall } = require('./lib/client');
const { waitUntil } = require('./lib/wait');
const { closedWithin, assertErrorReply } = require('./lib/chan');
const { startBackend } = require('./lib/backend');

const DOC = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'lua.md'), 'utf8');

function examples() {
  const out = new Map();
  const re = /(<!-- example: ([\w-]+) -->\n)?```lua\n([\s\S]*?)```/g;
  let m;
  while ((m = re.exec(DOC)) !== null) {
    assert.ok(m[2], `a lua block without an example marker: ${m[3].slice(0, 80)}`);
    assert.ok(!out.has(m[2]), `example ${m[2]} twice`);
    out.set(m[2], m[3]);
  }
  return out;
}

/** Connect raw with connect data (and a token); {raw, reply} or {closed}. */
async function connect(server, data, token) {
  const raw = await rawConnect(server);
  raw.cmd({ connect: { ...(data ? { data } : {}), ...(token ? { token } : {}) } });
  return raw.reply(1).then(
    (reply) => ({ raw, reply, client: reply.connect?.client }),
    () => raw.closed.then((closed) => ({ closed })),
  );
}

const base = () =>
  merge(defaultConfig(), {
    workers: 1,
    channel: {
      without_namespace: { allow_subscribe_for_client: true, allow_publish_for_subscriber: true, presence: true, allow_presence_for_subscriber: true },
      namespaces: [{ name: 'vip', allow_subscribe_for_client: true }],
    },
  });

const checks = {
  'connect-claims': {
    async run(server) {
      const ok = await connect(server, null, jwt.connToken(server.secret, '42'));
      assert.ok(ok.reply.connect, JSON.stringify(ok.reply));
      assert.ok((await rawCall(ok.raw, { subscribe: { channel: 'room' } })).subscribe);
      const p = await api(server, 'presence', { channel: 'room' });
      const me = p.body.result.presence[ok.client];
      assert.equal(me.user, '42');
      assert.deepEqual(me.conn_info, { plan: 'pro' });
      const no = await connect(server, {});
      assert.equal(no.closed?.code, 3507, JSON.stringify(no));
    },
  },

  'publish-exclude': {
    async run(server) {
      const a = await connect(server, { user: 'a' });
      const b = await connect(server, { user: 'b' });
      for (const s of [a, b]) assert.ok((await rawCall(s.raw, { subscribe: { channel: 'chat' } })).subscribe);
      assert.ok((await rawCall(a.raw, { publish: { channel: 'chat', data: { text: 'hi' } } })).publish);
      const got = await b.raw.messages.take((m) => m.push?.pub, 5000, 'the publication at b');
      assert.deepEqual(got.push.pub.data, { text: 'hi', from: 'a' });
      // the sender is left out: nothing arrives at a
      await assert.rejects(a.raw.messages.take((m) => m.push?.pub, 300, 'a publication at a'));
    },
  },

  'subscribe-errors': {
    async run(server) {
      const u = await connect(server, { user: 'u' });
      assertErrorReply(await rawCall(u.raw, { subscribe: { channel: 'vip:lounge' } }), 4403, 'members only');
      assert.ok((await rawCall(u.raw, { subscribe: { channel: 'news' } })).subscribe);
      const m = await connect(server, { user: 'mallory' });
      m.raw.cmd({ subscribe: { channel: 'news' } });
      assert.deepEqual(await closedWithin(m.raw, 5000), { code: 4501, reason: 'banned' });
    },
  },

  'rpc-cache-json': {
    async run(server) {
      const u = await connect(server, {});
      for (const n of [1, 2, 3]) assert.deepEqual((await rawCall(u.raw, { rpc: { method: 'count' } })).rpc.data, { n });
      const value = { a: [1, 2], b: null };
      const r = await rawCall(u.raw, { rpc: { method: 'echo', data: value } });
      assert.deepEqual(JSON.parse(r.rpc.data.text), value);
      assertErrorReply(await rawCall(u.raw, { rpc: { method: 'other' } }), 104);
    },
  },

  'http-request': {
    async setup() {
      const seen = [];
      const srv = http.createServer((req, res) => {
        seen.push(req.headers['x-user']);
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ allowed: ['room1'] }));
      });
      await new Promise((r) => srv.listen(0, '127.0.0.1', r));
      return { srv, seen, script: (s) => s.replace('http://127.0.0.1:8000', `http://127.0.0.1:${srv.address().port}`) };
    },
    async run(server, env) {
      const u = await connect(server, {});
      assert.ok((await rawCall(u.raw, { subscribe: { channel: 'room1' } })).subscribe);
      assertErrorReply(await rawCall(u.raw, { subscribe: { channel: 'room2' } }), 103);
      assert.deepEqual(env.seen, ['u', 'u']);
    },
    async teardown(env) {
      await new Promise((r) => env.srv.close(r));
    },
  },

  proxy: {
    async setup() {
      const backend = await startBackend({ '/connect': { json: { result: { user: '7' } } } });
      return { backend, config: { client: { proxy: { connect: { enabled: true, endpoint: backend.url('/connect'), timeout: '1s' } } } } };
    },
    async run(server) {
      const u = await connect(server, {});
      assert.ok(u.reply.connect, JSON.stringify(u.reply));
      assert.ok((await rawCall(u.raw, { subscribe: { channel: 'room' } })).subscribe);
      const me = (await api(server, 'presence', { channel: 'room' })).body.result.presence[u.client];
      assert.equal(me.user, '7');
      assert.deepEqual(me.conn_info, { via: 'lua' });
    },
    async teardown(env) {
      await env.backend.close();
    },
  },

  'broadcast-publish': {
    async run(server) {
      const u = await connect(server, {});
      assert.ok((await rawCall(u.raw, { subscribe: { channel: 'news' } })).subscribe);
      await publish(server, 'news', { n: 1 });
      const first = await u.raw.messages.take((m) => m.push?.pub, 5000, 'the API publication');
      assert.equal(first.push.pub.data.n, 1);
      assert.equal(typeof first.push.pub.data.ts, 'number');
      assert.deepEqual((await rawCall(u.raw, { rpc: { method: 'announce' } })).rpc.data, { ok: true });
      const second = await u.raw.messages.take((m) => m.push?.pub, 5000, 'the lucent.publish publication');
      assert.equal(second.push.pub.data.text, 'hello');
      assert.equal(typeof second.push.pub.data.ts, 'number');
    },
  },

  notifications: {
    async run(server) {
      const u = await connect(server, {});
      assert.ok((await rawCall(u.raw, { subscribe: { channel: 'news' } })).subscribe);
      assert.ok((await rawCall(u.raw, { unsubscribe: { channel: 'news' } })).unsubscribe);
      u.raw.ws.close();
      await waitUntil(() => /lua: unsubscribe news code 0/.test(server.logs()) && /lua: disconnect\tu/.test(server.logs()), {
        timeoutMs: 5000,
        what: 'both notification log lines',
      });
    },
  },

  limits: {
    async run(server) {
      const u = await connect(server, {});
      for (const m of ['slow', 'deep']) {
        const started = Date.now();
        assertErrorReply(await rawCall(u.raw, { rpc: { method: m } }, 10000), 100);
        assert.ok(Date.now() - started < 3000, `${m} took ${Date.now() - started} ms`);
      }
      assert.deepEqual((await rawCall(u.raw, { rpc: { method: 'ok' } })).rpc.data, { ok: true });
    },
  },
};

const found = examples();

test('every example of docs/lua.md has a check and every check an example', () => {
  assert.deepEqual([...found.keys()].sort(), Object.keys(checks).sort());
});

for (const [name, script] of found) {
  const check = checks[name];
  if (!check) continue;
  test(`docs/lua.md example "${name}"`, async () => {
    const env = check.setup ? await check.setup() : {};
    const text = env.script ? env.script(script) : script;
    const server = await startServer(merge(merge(base(), env.config || {}), { lua: { script: 'hooks.lua' } }), { files: { 'hooks.lua': text } });
    try {
      await withLogsOnFailure(server, () => check.run(server, env));
    } finally {
      await assertCleanExit(server);
      if (check.teardown) await check.teardown(env);
    }
  });
}
