'use strict';
// `npm test` runs this first: one clear message instead of every test failing the same way.

const { requireBinary } = require('./paths');

try {
  const bin = requireBinary();
  process.stdout.write(`lucent binary: ${bin}\n`);
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
