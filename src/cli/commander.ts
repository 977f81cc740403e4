import { createRequire } from "node:module";
import type * as CommanderModule from "commander";

/**
 * commander, loaded with `require`. Through `import`, Node's ESM loader lexes
 * commander's CommonJS sources to find their exports, which cost about 30 ms:
 * most of what `srvutil --help` took beyond a bare `node -e 0` (bench:cli).
 * Commands run from cron every few minutes pay this at every start.
 */
const commander = createRequire(import.meta.url)("commander") as typeof CommanderModule;

export const { Command, CommanderError, Option } = commander;
