'use strict';
// Headless Chromium (Debian's chromium package) driven by playwright-core, for the tests of
// the admin UI and the chat example. Each browser gets a fresh profile directory, removed when
// it closes; screenshots go to tests/integration/screenshots/ (gitignored).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const EXECUTABLE = process.env.LUCENT_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(__dirname, '..', 'screenshots');
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A browser context with a fresh --user-data-dir. close() removes the profile. */
async function launch({ viewport = { width: 1100, height: 800 } } = {}) {
  if (!fs.existsSync(EXECUTABLE)) throw new Error(`${EXECUTABLE} not found: run scripts/deps.sh (Debian package chromium)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lucent-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: EXECUTABLE,
    headless: true,
    args: FLAGS,
    viewport,
    timeout: 30000,
  });
  const close = async () => {
    await ctx.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { ctx, close };
}

/** Save a screenshot of page under screenshots/<name>.png; returns the path. */
async function screenshot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

module.exports = { launch, screenshot };
