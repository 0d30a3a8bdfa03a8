'use strict';
// The native binary and the npm package must behave the same: same exit
// code, stdout, stderr and output files for the same project and command.
// Add a case per CLI behaviour (run, graph, doctor, explain, …) with
// `compare(fixture, args)`: a fixture is a folder under tests/fixtures/ or
// null plus `files`.

const test = require('node:test');

const { needsWasm, nativeBin, compareNativeAndNpm } = require('../testlib/helpers.js');

const skip = needsWasm || (nativeBin() ? false : 'no native binary (cargo build -p cloesce or CLOESCE_NATIVE_BIN)');

const cases = [
  { name: '--version', fixture: null, files: { 'package.json': '{}\n' }, args: ['--version'] },
];

for (const c of cases) {
  test(`native and npm agree: cloesce ${c.args.join(' ')}`, { skip }, async () => {
    await compareNativeAndNpm(c.fixture, c.args, { files: c.files });
  });
}
