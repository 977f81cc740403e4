#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the
// `prepare` script, or by `npm run build`).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error("srvutil: dist/ is missing; run `npm run build` (or `npm ci`) first");
  process.exit(1);
}
await import(entry.href);
