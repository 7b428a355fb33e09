#!/usr/bin/env node
// The `greenfiber` command (see src/cli.ts): runs a script as the main greenlet.
'use strict';
const code = require('../dist/cli.js').run(process.argv.slice(2));
if (code !== undefined) process.exitCode = code;
