// `node --import ./record-imports.mjs …`: appends every module URL the
// program resolves to $SRVUTIL_TEST_IMPORT_LOG, one per line, so a test can
// check what a command loads (not how long it takes).
import { register } from "node:module";

const file = process.env.SRVUTIL_TEST_IMPORT_LOG;
if (!file) throw new Error("record-imports.mjs: set SRVUTIL_TEST_IMPORT_LOG to the file to write");
register("./record-imports-hooks.mjs", import.meta.url, { data: { file } });
