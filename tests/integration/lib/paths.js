'use strict';
// Where the server binary is: LUCENT_BIN, or <repo>/build-test/lucent.

const fs = require('node:fs');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const DEFAULT_BIN = path.join(REPO_ROOT, 'build-test', 'lucent');

function binaryPath() {
  return process.env.LUCENT_BIN ? path.resolve(process.env.LUCENT_BIN) : DEFAULT_BIN;
}

/** Throws a clear error when the server binary cannot be run. */
function requireBinary() {
  const bin = binaryPath();
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    const build = path.join(REPO_ROOT, 'build-test');
    throw new Error(
      `Lucent binary not found or not executable: ${bin}\n` +
        `  build it:  cmake -S ${REPO_ROOT} -B ${build} -DLUCENT_SANITIZE=ON && cmake --build ${build} --target lucent -j\n` +
        '  or point LUCENT_BIN at an existing binary',
    );
  }
  return bin;
}

module.exports = { REPO_ROOT, DEFAULT_BIN, binaryPath, requireBinary };
