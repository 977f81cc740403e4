#!/usr/bin/env node
// Thin launcher for the CLI's start-up bundle, dist/cli/srvutil.cjs (built by
// `npm ci` through the `prepare` script, or by `npm run build`). CommonJS on
// purpose (bin/package.json): an ES-module entry alone costs every start,
// most of them from cron, about a quarter of a bare `node -e 0` (bench:cli).
"use strict";
const { existsSync } = require("node:fs");
const { join } = require("node:path");

const entry = join(__dirname, "..", "dist", "cli", "srvutil.cjs");
if (!existsSync(entry)) {
  console.error("srvutil: dist/ is missing; run `npm run build` (or `npm ci`) first");
  process.exit(1);
}
require(entry);
