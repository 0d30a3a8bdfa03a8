#!/usr/bin/env node
'use strict';
// The `cloesce` command of the npm package. Everything runs in the
// WebAssembly engine; lib/ is the Node host it runs on (see docs/npm.md).
require('../lib/cli.js').main(process.argv.slice(2));
