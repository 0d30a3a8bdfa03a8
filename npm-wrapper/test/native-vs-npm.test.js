'use strict';
// The native binary and the npm package must behave the same: same exit
// code, stdout, stderr (timings and the project path aside) and output files
// for the same project and commands. A new CLI behaviour is one more
// `compare(...)` below; see testlib/helpers.js.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');

const { needsWasm, nativeBin, compareNativeAndNpm, runNpm, copyFixture } = require('../testlib/helpers.js');

const skip = needsWasm || (nativeBin() ? false : 'no native binary (cargo build -p cloesce or CLOESCE_NATIVE_BIN)');
const unixOnly = skip || (process.platform === 'win32' ? 'uses POSIX paths in node -e' : false);

const edit = (file, change) => (dir) => {
  const p = path.join(dir, file);
  fs.writeFileSync(p, change(fs.readFileSync(p, 'utf8')));
};

/** A pipeline of `run` rules; each `[name, script, extra]` runs `node -e script`. */
function pipeline(rules) {
  return (
    'cloesce version=1\n' +
    rules
      .map(([name, script, extra = '']) => `rule "${name}" {\n    run "node" "-e" ${JSON.stringify(script)}\n${extra}}\n`)
      .join('')
  );
}

test('version and help', { skip }, async () => {
  await compareNativeAndNpm(null, [['--version'], ['--help'], ['run', '--help'], ['--no-such-flag'], ['explain']], {
    files: { 'package.json': '{}\n' },
  });
});

test('an example project: build, no-op, edit, explain, graph, clean', { skip }, async () => {
  const [first, second] = await compareNativeAndNpm('kennel', [
    ['run'],
    ['run'],
    ['graph'],
    ['graph', '--format', 'mermaid', '--status'],
    edit('src/kennel.cloesce.ts', (t) => t.replace(/\n$/, '\n// an edit that changes no model\n')),
    ['run', '--explain'],
    ['explain', 'workers'],
    ['run', '--dry-run', '--explain'],
    ['run', '--json'],
    ['cache', 'stats'],
    ['cache', 'verify'],
  ]);
  assert.match(first.stdout, /cloesce: 6 ran in/);
  assert.match(second.stdout, /6 fresh/);
});

test('a broken cloesce.kdl is reported the same way (exit 2)', { skip }, async () => {
  const [result] = await compareNativeAndNpm(null, [['run']], {
    files: { 'cloesce.kdl': 'cloesce version=1\nrule "a" {\n    run "node"\n    deps "missing"\n}\nrule "a" {\n    run "x" {\n}\n' },
  });
  assert.equal(result.code, 2);
});

test('run rules: output, failure with exit code and stderr tail, keep-going', { skip: unixOnly }, async () => {
  const rules = pipeline([
    ['hello', "require('fs').writeFileSync('hello.txt', 'hi\\n'); console.log('made hello')", '    outputs "hello.txt"\n'],
    ['broken', "console.log('some context'); console.error('the real problem'); process.exit(3)", '    outputs "broken.txt"\n'],
    ['after', "require('fs').copyFileSync('broken.txt', 'after.txt')", '    inputs "broken.txt"\n    outputs "after.txt"\n'],
  ]);
  const results = await compareNativeAndNpm(null, [['run', '-j', '1'], ['run', '-k', '-j', '1'], ['run', '--json', '-j', '1']], {
    files: { 'cloesce.kdl': rules },
  });
  assert.equal(results[0].code, 1);
  assert.match(results[0].stderr, /the real problem/);
});

test('four 1-second rules overlap under npm as they do natively', { skip }, async () => {
  // Each rule writes when it started and when it ended; they overlap when
  // every rule started before any ended (whatever the machine's load).
  const sleeper = (name) => [
    name,
    `const s = Date.now(); setTimeout(() => require('fs').writeFileSync('${name}.txt', s + ' ' + Date.now()), 1000)`,
    `    outputs "${name}.txt"\n`,
  ];
  const names = ['a', 'b', 'c', 'd'];
  const dir = copyFixture(null, { 'cloesce.kdl': pipeline(names.map(sleeper)) });
  const result = await runNpm(['run', '-j', '4'], { cwd: dir });
  assert.equal(result.code, 0, result.stderr);
  const spans = names.map((n) => fs.readFileSync(path.join(dir, `${n}.txt`), 'utf8').split(' ').map(Number));
  const lastStart = Math.max(...spans.map(([start]) => start));
  const firstEnd = Math.min(...spans.map(([, end]) => end));
  assert.ok(lastStart < firstEnd, `the rules ran one after another: ${JSON.stringify(spans)}`);
  const again = await runNpm(['run', '-j', '4'], { cwd: dir });
  assert.match(again.stdout, /4 fresh/);
});
