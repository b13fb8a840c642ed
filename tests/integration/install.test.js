'use strict';
// The install layout (cmake --install, what `make install` runs): bin/lucent and
// share/lucent/lua/lucent/*.lua, found by the installed binary relative to itself; a module
// that is missing names every path searched.

const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { test, after } = require('node:test');
const { requireBinary, makeTempDir } = require('./lib/server');

const tmp = makeTempDir();
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('cmake --install puts the binary and the Lua library where the binary finds them', () => {
  const buildDir = path.dirname(requireBinary());
  const prefix = path.join(tmp, 'prefix');
  execFileSync('cmake', ['--install', buildDir, '--prefix', prefix], { stdio: 'pipe' });
  const bin = path.join(prefix, 'bin', 'lucent');
  const lib = path.join(prefix, 'share', 'lucent', 'lua', 'lucent');
  assert.ok(fs.existsSync(bin));
  assert.ok(fs.existsSync(path.join(lib, 'rules.lua')));
  assert.ok(fs.existsSync(path.join(lib, 'laravel.lua')));

  // a module that exists only in the installed tree proves where the binary looks first
  fs.writeFileSync(path.join(lib, 'zz_installed_only.lua'), 'return { where = "installed" }\n');
  const script = path.join(tmp, 'hooks.lua');
  fs.writeFileSync(script, 'local rules = require("lucent.rules")\nlocal m = require("lucent.zz_installed_only")\nassert(m.where == "installed")\nreturn {}\n');
  const cfg = path.join(tmp, 'config.json');
  fs.writeFileSync(cfg, JSON.stringify({ client: { token: { hmac_secret_key: 'x'.repeat(40) } }, lua: { script } }));
  const ok = spawnSync(bin, ['checkconfig', '-c', cfg], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);

  fs.writeFileSync(script, 'local m = require("nope.missing")\nreturn {}\n');
  const missing = spawnSync(bin, ['checkconfig', '-c', cfg], { encoding: 'utf8' });
  assert.notEqual(missing.status, 0);
  const m = missing.stderr.match(/module 'nope\.missing' not found; searched (.*)/);
  assert.ok(m, missing.stderr);
  const searched = m[1].split(', ');
  assert.equal(path.normalize(searched[0]), path.join(prefix, 'share', 'lucent', 'lua', 'nope', 'missing.lua'));
});
