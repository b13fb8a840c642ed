'use strict';
// examples/chat end to end: serve.js started as its README says, two headless Chromium pages
// (alice, then bob): history on join, presence on both sides, messages crossing, and sender
// exclusion (each sender sees its own message exactly once).

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const { test, before, after } = require('node:test');
const { requireBinary, freePort } = require('./lib/server');
const { waitUntil } = require('./lib/wait');
const { launch, screenshot } = require('./lib/browser');

const SERVE = path.join(__dirname, '..', '..', 'examples', 'chat', 'serve.js');
let child;
let output = '';
let url;
let browser;

before(async () => {
  const [port, lucentPort] = [await freePort(), await freePort()];
  child = spawn(process.execPath, [SERVE], {
    env: { ...process.env, PORT: String(port), LUCENT_PORT: String(lucentPort), LUCENT_BIN: requireBinary() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  url = `http://127.0.0.1:${port}`;
  await waitUntil(() => output.includes('chat: open') && output.includes('listening'), { timeoutMs: 15000, what: `serve.js to start:\n${output}` });
  browser = await launch({ viewport: { width: 900, height: 700 } });
});

after(async () => {
  if (browser) await browser.close();
  if (child && child.exitCode === null) {
    const gone = new Promise((r) => child.on('exit', r));
    child.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
  }
  assert.ok(!/AddressSanitizer|LeakSanitizer|runtime error:/.test(output), output);
});

async function join(name) {
  const page = await browser.ctx.newPage();
  await page.goto(url);
  await page.fill('#name', name);
  await page.click('#join button');
  await page.waitForSelector('#say:not([hidden])');
  return page;
}

const messages = (page) => page.$$eval('#messages div', (ds) => ds.map((d) => d.textContent));
const people = (page) => page.$$eval('#people li', (ls) => ls.map((l) => l.textContent));

test('two pages: history on join, presence, messages both ways, sender left out', async () => {
  const alice = await join('alice');
  await alice.fill('#text', 'hello before bob');
  await alice.click('#say button');
  await waitUntil(async () => (await messages(alice)).includes('alice: hello before bob'), { what: 'alice sees her own message' });

  const bob = await join('bob');
  // history on join
  await waitUntil(async () => (await messages(bob)).includes('alice: hello before bob'), { what: 'bob gets the history' });
  // presence: both see both (bob from the presence call, alice from bob's join)
  await waitUntil(async () => JSON.stringify(await people(bob)) === '["alice","bob"]', { what: 'bob sees alice and bob present' });
  await waitUntil(async () => JSON.stringify(await people(alice)) === '["alice","bob"]', { what: 'alice sees bob join' });

  await bob.fill('#text', 'hi alice');
  await bob.click('#say button');
  await waitUntil(async () => (await messages(alice)).includes('bob: hi alice'), { what: 'alice gets bob\'s message' });
  await alice.fill('#text', 'hi bob');
  await alice.click('#say button');
  await waitUntil(async () => (await messages(bob)).includes('alice: hi bob'), { what: 'bob gets alice\'s message' });
  await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive by now

  const count = (list, m) => list.filter((x) => x === m).length;
  assert.equal(count(await messages(bob), 'bob: hi alice'), 1, 'bob sees his own message once');
  assert.equal(count(await messages(alice), 'alice: hi bob'), 1, 'alice sees her own message once');
  assert.equal(count(await messages(alice), 'alice: hello before bob'), 1);
  await screenshot(alice, 'chat-alice');
  await screenshot(bob, 'chat-bob');

  await bob.close();
  await waitUntil(async () => JSON.stringify(await people(alice)) === '["alice"]', { what: 'alice sees bob leave' });
  await alice.close();
});
