/**
 * Entry point of the single executables (dist/bin/srvutil-agent-<platform>,
 * `npm run build:agent-bin`): this file, bundled as CommonJS, is the Node
 * single-executable-application blob injected into a stock Node binary. The
 * executable is the whole program, so a service manager starts it directly
 * and `install` copies it to the platform's usual place.
 */
import { runAgentProgram } from "./program.js";

void runAgentProgram(process.argv.slice(2), { self: [process.execPath], executable: process.execPath });
