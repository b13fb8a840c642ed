'use strict';
// Lua hooks that misbehave (src/hooks/script.h "Sandbox"): a runaway loop ends at the
// instruction budget and a memory bomb at the VM's cap, both as error 100 while other clients
// are served; the sandbox refuses io, os.execute, require outside the search path and bytecode;
// a failing hook is logged with file:line; a script that does not load stops the server (and
// checkconfig) with file:line; SIGHUP reloads the script without touching connections and
// keeps the old hooks when the new script is broken.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { test, describe, before, after } = require('node:test');
const {
  requireBinary,
  startServer,
  defaultConfig,
  merge,
  freePort,
  assertCleanExit,
  withLogsOnFailure,
  makeTempDir,
  tail,
} = require('./lib/server');
const jwt = require('./lib/jwt');
const { api, publish } = require('./lib/api');
const { newClient, connected, newSubscription, subscribed, nextPublication, rawConnect, rawCall } = require('./lib/client');
const { sleep, waitUntil } = require('./lib/wait');
const { staysOpen, assertErrorReply } = require('./lib/chan');

const SAFETY = fs.readFileSync(path.join(__dirname, 'lua', 'safety.lua'), 'utf8');
const BUDGET = 1000000;
const SANITIZER = /AddressSanitizer|LeakSanitizer|runtime error:/;

let seq = 0;
const uniq = (prefix) => `${prefix}${process.pid}x${++seq}`;

/** A raw connection the connect hook granted to user (both scripts' hooks accept data.user). */
async function session(server, user = uniq('u')) {
  const raw = await rawConnect(server);
  raw.cmd({ connect: { data: { user } } });
  const reply = await raw.reply(1);
  assert.ok(reply.connect, `connect failed: ${JSON.stringify(reply)}`);
  raw.client = reply.connect.client;
  return raw;
}

const rpc = (raw, method, data = {}, ms = 5000) => rawCall(raw, { rpc: { method, data } }, ms);

function rpcData(reply) {
  assert.ok(reply.rpc, `expected an rpc result, got ${JSON.stringify(reply)}`);
  return reply.rpc.data;
}

// ---------------------------------------------------------------------------------------------
// budget, memory, sandbox: one server for these

describe('runaway hooks and the sandbox', () => {
  const box = { server: null };
  before(async () => {
    box.server = await startServer(
      merge(defaultConfig(), {
        workers: 2,
        channel: {
          namespaces: [
            { name: 'chat', allow_subscribe_for_client: true, allow_publish_for_subscriber: true },
            { name: 'loop', allow_subscribe_for_client: true },
          ],
        },
        lua: { script: 'safety.lua', instruction_budget: BUDGET, memory_limit: 16 * 1024 * 1024 },
      }),
      { files: { 'safety.lua': SAFETY } },
    );
  });
  after(async () => {
    if (box.server) await assertCleanExit(box.server);
  });
  const t = (name, fn, opts = {}) => test(name, opts, () => withLogsOnFailure(box.server, fn));

  t('an endless loop in an rpc hook → error 100 within the budget; the connection stays usable', async () => {
    const raw = await session(box.server);
    const started = Date.now();
    assertErrorReply(await rpc(raw, 'loop', {}, 10000), 100);
    assert.ok(Date.now() - started < 5000, `the loop ran ${Date.now() - started} ms`);
    assert.deepEqual(rpcData(await rpc(raw, 'ok')), { ok: true });
  });

  t('the budget is per call: a hook using a third of it runs many times in a row', async () => {
    const raw = await session(box.server);
    for (let i = 0; i < 10; i++) assert.deepEqual(rpcData(await rpc(raw, 'work')), { x: 5000050000 });
  });

  t('endless loops in connect and subscribe hooks → error 100', async () => {
    const raw = await rawConnect(box.server);
    raw.cmd({ connect: { data: { loop: true } } });
    assertErrorReply(await raw.reply(1, 10000), 100);

    const s = await session(box.server);
    assertErrorReply(await rawCall(s, { subscribe: { channel: 'loop:1' } }, 10000), 100);
    assert.ok(await staysOpen(s, 200));
  });

  t('while runaway hooks burn their budget, another client connects and publishes/receives normally', async () => {
    const looper = await session(box.server);
    // 30 runaway calls queued at once on one connection (they run one after another)
    const ids = [];
    for (let i = 0; i < 30; i++) ids.push(looper.cmd({ rpc: { method: 'loop', data: {} } }));
    const loops = Promise.all(ids.map((id) => looper.reply(id, 60000)));

    const ch = `chat:${uniq('busy')}`;
    const c = newClient(box.server, { data: { user: uniq('calm') } });
    await connected(c, 10000);
    const sub = newSubscription(c, ch);
    await subscribed(sub, 10000);
    for (let n = 0; n < 5; n++) {
      const started = Date.now();
      await sub.publish({ n });
      assert.deepEqual((await nextPublication(sub, 5000)).data, { n });
      assert.ok(Date.now() - started < 3000, `a publish round trip took ${Date.now() - started} ms`);
    }
    for (const reply of await loops) assertErrorReply(reply, 100);
  });

  t('coroutines and callbacks nested without end → error 100, no crash; the worker carries on', async () => {
    const raw = await session(box.server);
    for (const what of ['wrap', 'resume', 'gsub', 'sort']) {
      assertErrorReply(await rpc(raw, `nest.${what}`, {}, 10000), 100);
      assert.deepEqual(rpcData(await rpc(raw, 'ok')), { ok: true });
    }
    await waitUntil(() => /C stack overflow/.test(box.server.logs()), { timeoutMs: 3000, what: 'the C stack overflow logged' });
  });

  t('pathological patterns in find/match/gmatch/gsub and a huge rep → error 100 within the budget', async () => {
    const raw = await session(box.server);
    for (const what of ['find', 'match', 'gmatch', 'gsub', 'find_pcall', 'rep']) {
      const started = Date.now();
      assertErrorReply(await rpc(raw, `slow.${what}`, {}, 10000), 100);
      assert.ok(Date.now() - started < 3000, `slow.${what} ran ${Date.now() - started} ms`);
    }
    // /health is answered meanwhile and afterwards
    const res = await fetch(`http://127.0.0.1:${box.server.port}/health`);
    assert.equal(res.status, 200);
  });

  t('a memory bomb → error 100; the memory is given back', async () => {
    const raw = await session(box.server);
    for (let i = 0; i < 3; i++) {
      assertErrorReply(await rpc(raw, 'bomb', {}, 20000), 100);
      assertErrorReply(await rpc(raw, 'bomb.string', {}, 20000), 100);
    }
    assert.deepEqual(rpcData(await rpc(raw, 'alloc')), { n: 256 });
    assert.deepEqual(rpcData(await rpc(raw, 'ok')), { ok: true });
  });

  const PROBES = [
    'io',
    'os_execute',
    'os_exit',
    'os_getenv',
    'require_os',
    'require_io',
    'require_ffi',
    'require_debug',
    'require_outside',
    'debug',
    'loadlib',
    'dofile',
    'loadfile',
  ];
  t(`forbidden globals and modules → error 100 (${PROBES.join(', ')}); the server lives on`, async () => {
    const raw = await session(box.server);
    for (const what of PROBES) {
      const reply = await rpc(raw, `probe.${what}`);
      assert.ok(reply.error, `probe ${what} was not refused: ${JSON.stringify(reply)}`);
      assert.equal(reply.error.code, 100, `probe ${what}: ${JSON.stringify(reply)}`);
    }
    assert.ok(raw.isOpen());
    assert.deepEqual(rpcData(await rpc(raw, 'ok')), { ok: true });
    const h = await api(box.server, 'info', {});
    assert.ok(h.body.result, h.text);
  });

  t('no way around the sandbox through getfenv, _G or the string metatable', async () => {
    const raw = await session(box.server);
    const reply = await rpc(raw, 'escape');
    if (reply.error) {
      assert.equal(reply.error.code, 100, JSON.stringify(reply));
    } else {
      // an empty Lua table may encode as {} or []
      const found = reply.rpc.data?.found;
      assert.ok(found && Object.keys(found).length === 0, `reachable from a hook: ${JSON.stringify(reply.rpc.data)}`);
    }
  });

  t('bytecode does not load', async () => {
    const raw = await session(box.server);
    const reply = await rpc(raw, 'bytecode');
    if (reply.error) assert.equal(reply.error.code, 100, JSON.stringify(reply));
    else assert.deepEqual(reply.rpc.data, { loaded: false });
  });

  t('a hook that raises, or returns no decision → error 100, logged with file:line', async () => {
    const raw = await session(box.server);
    const marker = uniq('');
    assertErrorReply(await rpc(raw, 'boom', { n: marker }), 100);
    await waitUntil(() => new RegExp(`safety\\.lua:\\d+:.*boom-marker ${marker}`).test(box.server.logs()), {
      timeoutMs: 3000,
      what: 'the error logged with safety.lua:<line>',
    });
    assertErrorReply(await rpc(raw, 'not.a.decision'), 100);
    assertErrorReply(await rpc(raw, 'bad.field'), 100);
    assert.deepEqual(rpcData(await rpc(raw, 'ok')), { ok: true });
  });
});

// A server of its own: a budget that pcall could swallow would leave a worker spinning, which
// must not take the other tests down with it.
describe('the budget and pcall', () => {
  const box = { server: null };
  before(async () => {
    box.server = await startServer(
      merge(defaultConfig(), { workers: 2, lua: { script: 'safety.lua', instruction_budget: BUDGET } }),
      { files: { 'safety.lua': SAFETY } },
    );
  });
  after(async () => {
    if (box.server) await assertCleanExit(box.server);
  });

  test('pcall does not swallow the budget: the hook still ends with error 100', () =>
    withLogsOnFailure(box.server, async () => {
      const raw = await session(box.server);
      assertErrorReply(await rpc(raw, 'loop.pcall', {}, 10000), 100);
      assert.deepEqual(rpcData(await rpc(raw, 'ok')), { ok: true });
    }));
});

// ---------------------------------------------------------------------------------------------
// scripts that do not load

/** Run the binary to completion (killed after timeoutMs); resolves {code, signal, out}. */
function run(args, cwd, timeoutMs = 15000) {
  const bin = requireBinary();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, timedOut });
    });
  });
}

/** A temp dir with config.json naming scriptName (holding scriptText; null: no file). */
async function brokenSetup(scriptText, scriptName = 'broken.lua') {
  const dir = makeTempDir();
  const cfg = merge(defaultConfig(), {
    http_server: { address: '127.0.0.1', port: await freePort() },
    lua: { script: scriptName },
  });
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify(cfg, null, 2));
  if (scriptText !== null) fs.writeFileSync(path.join(dir, scriptName), scriptText);
  return { dir, configFile };
}

const BROKEN = [
  {
    name: 'a syntax error',
    text: 'local rules = require "lucent.rules"\nlocal r = rules.new()\nr:rpc("x", function(ctx)\n  return {data = }\nend)\nreturn r:hooks()\n',
    where: /broken\.lua:4/,
  },
  {
    name: 'an error raised while the script runs',
    text: 'local x = 1\nlocal y = 2\nerror("refusing to load")\nreturn {}\n',
    where: /broken\.lua:3/,
  },
  {
    name: 'a bad route pattern',
    text: 'local rules = require "lucent.rules"\nlocal r = rules.new()\nr:subscribe("user:{id", function() return true end)\nreturn r:hooks()\n',
    where: /broken\.lua:3/,
  },
  {
    name: 'no table returned',
    text: 'local x = 42\nreturn x\n',
    where: /broken\.lua/,
  },
  {
    name: 'a forbidden module at load time',
    text: 'local os = require "os"\nreturn {}\n',
    where: /broken\.lua:1/,
  },
];

describe('a script that does not load', () => {
  const dirs = [];
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  for (const b of BROKEN) {
    test(`${b.name}: the server refuses to start and checkconfig fails, both naming file:line`, async () => {
      const { dir, configFile } = await brokenSetup(b.text);
      dirs.push(dir);
      const r = await run(['-c', configFile], dir);
      const show = `exit ${r.code} signal ${r.signal}${r.timedOut ? ' (timed out: the server started)' : ''}\n${tail(r.out)}`;
      assert.equal(r.timedOut, false, show);
      assert.notEqual(r.code, 0, show);
      assert.match(r.out, b.where, show);
      assert.doesNotMatch(r.out, SANITIZER, show);

      const c = await run(['checkconfig', '-c', configFile], dir);
      const showc = `checkconfig: exit ${c.code}\n${tail(c.out)}`;
      assert.notEqual(c.code, 0, showc);
      assert.match(c.out, b.where, showc);
      assert.doesNotMatch(c.out, SANITIZER, showc);
    });
  }

  test('a missing script: the server refuses to start and names the file', async () => {
    const { dir, configFile } = await brokenSetup(null, 'missing.lua');
    dirs.push(dir);
    const r = await run(['-c', configFile], dir);
    assert.equal(r.timedOut, false, r.out);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /missing\.lua/, r.out);
    const c = await run(['checkconfig', '-c', configFile], dir);
    assert.notEqual(c.code, 0, c.out);
  });

  test('a good script: checkconfig passes', async () => {
    const { dir, configFile } = await brokenSetup('return {rpc = function(ctx) return {data = {}} end}\n', 'good.lua');
    dirs.push(dir);
    const c = await run(['checkconfig', '-c', configFile], dir);
    assert.equal(c.code, 0, c.out);
  });
});

// ---------------------------------------------------------------------------------------------
// SIGHUP reload

const version = (v, extra = '') => `-- reload test, version ${v}
return {
    rpc = function(ctx)
        return {data = {v = ${v}}}
    end,
    subscribe = function(ctx)
        if ctx.channel == "gate:x" then
            return ${v >= 2 ? 'true' : 'false'}
        end
    end,${extra}
}
`;

describe('SIGHUP reload', () => {
  const box = { server: null };
  before(async () => {
    box.server = await startServer(
      merge(defaultConfig(), {
        workers: 2,
        channel: { namespaces: [{ name: 'gate' }, { name: 'keep', allow_subscribe_for_client: true }] },
        lua: { script: 'reload.lua' },
      }),
      { files: { 'reload.lua': version(1) } },
    );
  });
  after(async () => {
    if (box.server) await assertCleanExit(box.server);
  });
  const t = (name, fn, opts = {}) => test(name, opts, () => withLogsOnFailure(box.server, fn));
  const scriptFile = () => path.join(box.server.dir, 'reload.lua');

  /** A connection made by a token (the reload scripts have no connect hook). */
  async function tokenSession() {
    const raw = await rawConnect(box.server);
    raw.cmd({ connect: { token: jwt.connToken(box.server.secret, uniq('r')) } });
    const reply = await raw.reply(1);
    assert.ok(reply.connect, JSON.stringify(reply));
    return raw;
  }
  const versionOf = async (raw) => rpcData(await rpc(raw, 'v')).v;
  const waitVersion = (raw, v, what) =>
    waitUntil(async () => (await versionOf(raw)) === v, { timeoutMs: 5000, intervalMs: 50, what });

  /** Fresh connections (likely on every worker) all see version v. */
  async function freshSee(v) {
    for (let i = 0; i < 6; i++) {
      const raw = await tokenSession();
      await waitVersion(raw, v, `a fresh connection to see version ${v}`);
      raw.close();
    }
  }

  t('the new script takes over; connections and subscriptions made before stay', async () => {
    const old = await tokenSession();
    assert.equal(await versionOf(old), 1);
    assertErrorReply(await rawCall(old, { subscribe: { channel: 'gate:x' } }), 103);
    assert.ok((await rawCall(old, { subscribe: { channel: 'keep:1' } })).subscribe);

    fs.writeFileSync(scriptFile(), version(2));
    process.kill(box.server.pid, 'SIGHUP');
    await waitVersion(old, 2, 'the existing connection to see version 2');
    await freshSee(2);
    assert.ok((await rawCall(old, { subscribe: { channel: 'gate:x' } })).subscribe, 'version 2 lets gate:x in');

    assert.ok(old.isOpen(), 'the connection was dropped by the reload');
    await publish(box.server, 'keep:1', { after: 'reload' });
    const p = await old.push((x) => x.channel === 'keep:1' && x.pub, 5000, 'publication on keep:1');
    assert.deepEqual(p.push.pub.data, { after: 'reload' });
  });

  t('a broken new script keeps the old hooks and logs the error; a later good one still loads', async () => {
    const raw = await tokenSession();
    const before = await versionOf(raw);
    const logsBefore = box.server.logs().length;
    fs.writeFileSync(scriptFile(), '-- broken\nreturn {\n    rpc = function(ctx) return {data = } end,\n}\n');
    process.kill(box.server.pid, 'SIGHUP');
    await waitUntil(() => /reload\.lua:3/.test(box.server.logs().slice(logsBefore)), {
      timeoutMs: 5000,
      what: 'the reload error naming reload.lua:3 in the log',
    });
    await sleep(200);
    assert.equal(await versionOf(raw), before, 'the old hooks must stay');
    await freshSee(before);
    assert.ok(raw.isOpen());

    fs.writeFileSync(scriptFile(), version(3));
    process.kill(box.server.pid, 'SIGHUP');
    await waitVersion(raw, 3, 'version 3 after the broken one');
    await freshSee(3);
  });

  t('hooks the new script drops are no longer called; SIGHUP with an unchanged file is harmless', async () => {
    const raw = await tokenSession();
    fs.writeFileSync(scriptFile(), 'return {\n    subscribe = function(ctx) return false end,\n}\n');
    process.kill(box.server.pid, 'SIGHUP');
    // no rpc hook any more: the standard path answers (nothing configured → 108)
    await waitUntil(async () => (await rpc(raw, 'v')).error?.code === 108, { timeoutMs: 5000, what: 'rpc to fall back to the standard path' });
    assertErrorReply(await rawCall(raw, { subscribe: { channel: 'keep:2' } }), 103);
    process.kill(box.server.pid, 'SIGHUP');
    await sleep(300);
    assertErrorReply(await rawCall(raw, { subscribe: { channel: 'keep:3' } }), 103);
    assert.ok(await staysOpen(raw, 200));
  });
});

// ---------------------------------------------------------------------------------------------
// lua.time_limit: the running time of one call, whatever the instruction budget says

describe('the time limit per hook call', () => {
  const box = { server: null };
  before(async () => {
    box.server = await startServer(
      merge(defaultConfig(), {
        lua: { script: 'safety.lua', instruction_budget: 1e15, time_limit: '300ms' },
      }),
      { files: { 'safety.lua': SAFETY } },
    );
  });
  after(async () => {
    if (box.server) await assertCleanExit(box.server);
  });
  const t = (name, fn) => test(name, () => withLogsOnFailure(box.server, fn));

  t('an endless loop and a pathological find end with error 100 after about the limit', async () => {
    const raw = await session(box.server);
    for (const method of ['loop', 'slow.find', 'slow.gsub']) {
      const started = Date.now();
      assertErrorReply(await rpc(raw, method, {}, 10000), 100);
      const ms = Date.now() - started;
      assert.ok(ms >= 280 && ms < 3000, `${method} ended after ${ms} ms (limit 300 ms)`);
    }
    assert.match(box.server.logs(), /time limit exceeded/);
    assert.deepEqual(rpcData(await rpc(raw, 'work')), { x: 5000050000 });
  });
});
