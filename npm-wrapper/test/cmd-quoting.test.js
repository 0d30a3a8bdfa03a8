'use strict';
// Windows `.cmd`/`.bat` programs run as `cmd.exe /d /s /c "…"` (Node refuses
// to spawn them without a shell since CVE-2024-27980). These tests pin the
// quoting and check it round-trips through a model of cmd.exe's caret pass
// and the MSVCRT argv parser, on any OS.

const assert = require('node:assert/strict');
const path = require('node:path');
const test = require('node:test');

const { PACKAGE_DIR } = require('../testlib/helpers.js');
const { quoteCmdArg, commandFor, needsCmd } = require(path.join(PACKAGE_DIR, 'lib', 'spawn.js'));

test('plain, empty and spaced arguments', () => {
  assert.equal(quoteCmdArg('hello'), '^"hello^"');
  assert.equal(quoteCmdArg(''), '^"^"');
  assert.equal(quoteCmdArg('a b'), '^"a^ b^"');
});

test('quotes and backslashes follow the MSVCRT rules', () => {
  // a"b -> "a\"b"
  assert.equal(quoteCmdArg('a"b'), '^"a\\^"b^"');
  // C:\dir\ -> "C:\dir\\" (the trailing backslash must not escape the quote)
  assert.equal(quoteCmdArg('C:\\dir\\'), '^"C:\\dir\\\\^"');
  // a\\"b -> "a\\\\\"b"
  assert.equal(quoteCmdArg('a\\\\"b'), '^"a\\\\\\\\\\^"b^"');
  // Backslashes not before a quote stay as they are.
  assert.equal(quoteCmdArg('a\\b\\c'), '^"a\\b\\c^"');
});

test('cmd.exe metacharacters are escaped, twice for npm shims', () => {
  assert.equal(quoteCmdArg('&|<>'), '^"^&^|^<^>^"');
  assert.equal(quoteCmdArg('%PATH%'), '^"^%PATH^%^"');
  assert.equal(quoteCmdArg('!x^'), '^"^!x^^^"');
  assert.equal(quoteCmdArg('a&b', true), '^^^"a^^^&b^^^"');
});

test('only .cmd and .bat on Windows go through cmd.exe', () => {
  assert.equal(needsCmd('C:\\x\\tsc.cmd', 'win32'), true);
  assert.equal(needsCmd('C:\\x\\gen.BAT', 'win32'), true);
  assert.equal(needsCmd('C:\\x\\node.exe', 'win32'), false);
  assert.equal(needsCmd('/usr/bin/tsc.cmd', 'linux'), false);
  assert.deepEqual(commandFor('/usr/bin/tsc', ['-p', 'a b'], 'linux'), {
    file: '/usr/bin/tsc',
    args: ['-p', 'a b'],
    verbatim: false,
  });
});

test('an npm shim gets /d /s /c, a quoted line and double escaping', () => {
  const shim = 'C:\\proj\\node_modules\\.bin\\tsc.cmd';
  const got = commandFor(shim, ['-p', 'x y'], 'win32', 'C:\\Windows\\system32\\cmd.exe');
  assert.deepEqual(got, {
    file: 'C:\\Windows\\system32\\cmd.exe',
    args: ['/d', '/s', '/c', '"C:\\proj\\node_modules\\.bin\\tsc.cmd ^^^"-p^^^" ^^^"x^^^ y^^^""'],
    verbatim: true,
  });
  const bat = commandFor('C:\\tools\\gen.bat', ['a&b'], 'win32', 'cmd.exe');
  assert.equal(bat.args[3], '"C:\\tools\\gen.bat ^"a^&b^""');
});

// ---- a model of what Windows does with the command line ----

/** `cmd /s /c "LINE"`: drop the outer quotes, then one caret pass. */
function cmdPass(line) {
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '^' && i + 1 < line.length) out += line[++i];
    else out += line[i];
  }
  return out;
}

/** The MSVCRT (2008+) rules a program uses to split its command line. */
function parseArgv(line) {
  const args = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (i >= line.length) break;
    let arg = '';
    let quoted = false;
    for (; i < line.length; i++) {
      const c = line[i];
      if (c === '\\') {
        let n = 0;
        while (line[i] === '\\') {
          n++;
          i++;
        }
        if (line[i] === '"') {
          arg += '\\'.repeat(Math.floor(n / 2));
          if (n % 2 === 1) arg += '"';
          else quoted = !quoted;
        } else {
          arg += '\\'.repeat(n);
          i--;
        }
      } else if (c === '"') {
        if (quoted && line[i + 1] === '"') {
          arg += '"';
          i++;
        } else quoted = !quoted;
      } else if ((c === ' ' || c === '\t') && !quoted) {
        break;
      } else {
        arg += c;
      }
    }
    args.push(arg);
  }
  return args;
}

function decode(spawned, shim) {
  const [d, s, c, quotedLine] = spawned.args;
  assert.deepEqual([d, s, c], ['/d', '/s', '/c']);
  assert.ok(quotedLine.startsWith('"') && quotedLine.endsWith('"'));
  let line = cmdPass(quotedLine.slice(1, -1));
  // An npm shim hands `%*` to node, and cmd.exe parses it once more.
  if (shim) line = cmdPass(line);
  return parseArgv(line);
}

test('random arguments survive cmd.exe and the argv parser', () => {
  const alphabet = ['a', 'Z', '0', ' ', '\t', '"', '\\', '&', '|', '<', '>', '^', '%', '!', '(', ')', ',', ';', '=', '*', '?', '`', "'", 'é'];
  let seed = 12345;
  const random = (n) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (const program of ['C:\\tools\\gen.bat', 'C:\\proj\\node_modules\\.bin\\tsc.cmd']) {
    const shim = program.endsWith('.cmd');
    for (let round = 0; round < 500; round++) {
      const args = Array.from({ length: 1 + random(4) }, () =>
        Array.from({ length: random(8) }, () => alphabet[random(alphabet.length)]).join(''),
      );
      const argv = decode(commandFor(program, args, 'win32', 'cmd.exe'), shim);
      assert.deepEqual(argv, [program, ...args], JSON.stringify(args));
    }
  }
});
