'use strict';
// Close codes a hook or a backend asks for must fit a WebSocket close frame (3000–4999, a reason
// of at most 123 bytes, as the server API checks): lucent.disconnect(4294967295) and a proxy
// `disconnect.code` of the same used to be cut to 16 bits (65535 on the wire, and the client
// failed with a protocol error 1002). Now the hook fails (error 100, one log line) and the
// backend's answer is unusable (logged, answered as a failed proxy call); codes in range still
// close the connection with that code and reason.

const assert = require('node:assert/strict');
const { test, before, after } = require('node:test');
const { startServer, defaultConfig, merge, assertCleanExit, withLogsOnFailure } = require('./lib/server');
const { rawConnect, rawCall } = require('./lib/client');
const { waitUntil } = require('./lib/wait');
const { closedWithin, staysOpen, assertErrorReply } = require('./lib/chan');
const { startBackend } = require('./lib/backend');

const SCRIPT = `
return {
  connect = function(ctx)
    if type(ctx.data) == "table" and ctx.data.lua == "big" then return lucent.disconnect(4294967295) end
    if type(ctx.data) == "table" and ctx.data.lua == "ok" then return lucent.disconnect(4321, "lua ok") end
    return nil
  end,
  rpc = function(ctx)
    if ctx.method == "lua.big" then return lucent.disconnect(4294967295, "x") end
    if ctx.method == "lua.low" then return lucent.disconnect(1000, "x") end
    if ctx.method == "lua.long" then return lucent.disconnect(4000, string.rep("r", 124)) end
    if ctx.method == "lua.ok" then return lucent.disconnect(4999, "lua bye") end
    return nil
  end,
}
`;

const ctx = { server: null, backend: null };

before(async () => {
  ctx.backend = await startBackend({
    '/connect': (r) => {
      const c = r.json?.data?.proxy;
      if (c === 'big') return { json: { disconnect: { code: 4294967295, reason: 'too big' } } };
      if (c === 'ok') return { json: { disconnect: { code: 4502, reason: 'proxy bye' } } };
      return { json: { result: { user: 'u1' } } };
    },
    '/rpc': (r) => {
      if (r.json?.method === 'proxy.big') return { json: { disconnect: { code: 65536, reason: 'x' } } };
      return { json: { disconnect: { code: 4503, reason: 'rpc bye' } } };
    },
  });
  ctx.server = await startServer(
    merge(defaultConfig(), {
      client: { proxy: { connect: { enabled: true, endpoint: ctx.backend.url('/connect'), timeout: '1s' } } },
      rpc: { proxy: { endpoint: ctx.backend.url('/rpc') }, without_namespace: { proxy_enabled: true } },
      lua: { script: 'hooks.lua' },
    }),
    { files: { 'hooks.lua': SCRIPT } },
  );
});

after(async () => {
  if (ctx.server) await assertCleanExit(ctx.server);
  if (ctx.backend) await ctx.backend.close();
});

const t = (name, fn) => test(name, () => withLogsOnFailure(ctx.server, fn));

async function connectWith(data) {
  const raw = await rawConnect(ctx.server);
  raw.cmd({ connect: { data } });
  // a close rejects the wait for the reply: then the close is the answer
  const first = await raw.reply(1).then(
    (r) => ({ reply: r }),
    () => raw.closed.then((c) => ({ closed: c })),
  );
  return { raw, ...first };
}

t('lucent.disconnect out of range in a connect hook → error 100, never a 16-bit cut close code', async () => {
  const { raw, reply, closed } = await connectWith({ lua: 'big' });
  assert.ok(!closed, `closed with ${JSON.stringify(closed)}`);
  assertErrorReply(reply, 100);
  await waitUntil(() => /code must be an integer 3000\.\.4999/.test(ctx.server.logs()), {
    timeoutMs: 3000,
    what: 'the hook error in the log',
  });
  raw.ws.close();
});

t('lucent.disconnect out of range or with a long reason in an rpc hook → error 100; the connection stays', async () => {
  const { raw, reply } = await connectWith({});
  assert.ok(reply.connect, JSON.stringify(reply));
  for (const m of ['lua.big', 'lua.low', 'lua.long']) assertErrorReply(await rawCall(raw, { rpc: { method: m } }), 100);
  // the error's log line names the client, its user and the method
  const client = reply.connect.client;
  await waitUntil(() => ctx.server.logs().includes(`lua rpc hook client ${client} user "u1" method "lua.big": `), {
    timeoutMs: 3000,
    what: 'the hook error naming client, user and method',
  });
  assert.ok(await staysOpen(raw, 200));
  raw.cmd({ rpc: { method: 'lua.ok' } });
  assert.deepEqual(await closedWithin(raw, 5000), { code: 4999, reason: 'lua bye' });
});

t('in-range lucent.disconnect in a connect hook closes with that code and reason', async () => {
  const { closed } = await connectWith({ lua: 'ok' });
  assert.deepEqual(closed, { code: 4321, reason: 'lua ok' });
});

t('a proxy disconnect.code out of range is refused (logged), never sent cut to 16 bits', async () => {
  const { raw, reply, closed } = await connectWith({ proxy: 'big' });
  if (closed) assert.ok(closed.code >= 3000 && closed.code < 5000 && closed.code !== 65535, JSON.stringify(closed));
  else assertErrorReply(reply, 100);
  await waitUntil(() => /disconnect code outside 3000\.\.4999/.test(ctx.server.logs()), {
    timeoutMs: 3000,
    what: 'the unusable proxy answer in the log',
  });
  raw.ws.close();

  const s = await connectWith({});
  assert.ok(s.reply.connect, JSON.stringify(s.reply));
  assertErrorReply(await rawCall(s.raw, { rpc: { method: 'proxy.big' } }), 100);
  assert.ok(await staysOpen(s.raw, 200));
  s.raw.cmd({ rpc: { method: 'proxy.ok' } });
  assert.deepEqual(await closedWithin(s.raw, 5000), { code: 4503, reason: 'rpc bye' });
});

t('an in-range proxy disconnect closes with that code and reason', async () => {
  const { closed } = await connectWith({ proxy: 'ok' });
  assert.deepEqual(closed, { code: 4502, reason: 'proxy bye' });
});
