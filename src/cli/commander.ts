/**
 * commander, for the command wiring. At run time it is bundled with the wiring
 * into dist/cli/srvutil.cjs (scripts/build-cli.ts), so no ES-module loading of
 * commander's CommonJS sources (and their export lexing) happens at start.
 */
export { Command, CommanderError, Option } from "commander";
