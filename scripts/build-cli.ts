/**
 * The CLI's start-up bundle, dist/cli/srvutil.cjs (run by `npm run build`
 * after tsc; bin/srvutil.js loads it).
 *
 * Why a bundle: every `srvutil` start, most of them from cron, used to load
 * about a dozen ES modules (main.ts, the command-registration files,
 * commander) through Node's ESM loader, which cost ~1.3–1.5× a bare `node -e
 * 0` before a command did anything. One CommonJS file loaded with `require`
 * skips the ESM loader at start altogether (bench:cli, docs/cli-startup.md).
 *
 * What goes in: only the wiring, i.e. src/cli/main.ts, the files it imports
 * statically (the command registrations) and commander. Every `await
 * import()` stays a real dynamic import of tsc's output next to the bundle
 * (dist/cli/*-run.js, dist/cli/errors.js, dist/agent/commands.js), so a
 * command's modules load only when it runs. The build refuses anything else
 * statically reachable from main.ts: that is the lazy-loading rule of the
 * developers' guide, enforced where a slip would otherwise silently bundle
 * fastify into every `--help`.
 *
 * A module must be on one side only. One in the bundle and also imported by
 * the lazy side would exist twice at run time, and `instanceof` across the
 * copies fails: that is why src/errors.ts (whose classes the commands throw)
 * and src/cli/errors.ts stay out of the bundle (test/cli/cli-bundle.test.ts).
 */
import { isBuiltin } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { type BuildOptions, build, type Metafile, type Plugin } from "esbuild";

const ROOT = resolve(import.meta.dirname, "..");
const CLI_SRC = join(ROOT, "src", "cli");

/** Source files (relative to the repository) and package prefixes the bundle may hold. */
function allowedInBundle(input: string): boolean {
  return (
    (input.startsWith("src/cli/") && !input.endsWith("-run.ts") && input !== "src/cli/errors.ts") ||
    // Wherever npm put it (a hoisted or linked node_modules is outside the repository).
    /(^|\/)node_modules\/commander\//.test(input)
  );
}

function refuse(importer: string, text: string) {
  return { errors: [{ text: `${relative(ROOT, importer)}: ${text}` }] };
}

/**
 * Keeps every dynamic `import()` as it is written, to be resolved at run time
 * against the bundle's own directory (that only holds for imports written in
 * src/cli/, as the bundle sits in dist/cli/), and refuses, at the import that
 * does it, any static import of something that is not wiring.
 */
const onlyWiring: Plugin = {
  name: "only-wiring",
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === "entry-point" || args.importer.includes("/node_modules/")) return undefined;
      if (args.kind === "dynamic-import") {
        if (dirname(args.importer) !== CLI_SRC) {
          return refuse(
            args.importer,
            `import("${args.path}") outside src/cli/ would resolve against dist/cli/ at run time; move it into a src/cli/ file`,
          );
        }
        if (!args.path.startsWith(".")) {
          return refuse(
            args.importer,
            `import("${args.path}"): import a *-run.ts module of src/cli/ instead, which imports the package`,
          );
        }
        return { path: args.path, external: true };
      }
      if (isBuiltin(args.path) || args.path === "commander") return undefined;
      const target = args.path.startsWith(".")
        ? relative(ROOT, resolve(args.resolveDir, args.path.replace(/\.js$/, ".ts")))
        : `node_modules/${args.path}/`;
      if (allowedInBundle(target)) return undefined;
      return refuse(
        args.importer,
        `imports ${args.path} statically, so it would load at every start; only the command wiring ` +
          "(src/cli/*.ts except *-run.ts and errors.ts, and commander) may be imported statically from " +
          "src/cli/main.ts. Load the rest with `await import()` of a *-run.ts module.",
      );
    });
  },
};

export function cliBundleOptions(
  outfile: string,
  entry = join(CLI_SRC, "main.ts"),
): BuildOptions & { metafile: true } {
  return {
    absWorkingDir: ROOT,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    // Unminified: stack traces of internal errors stay readable, and minifying measured no faster.
    minify: false,
    metafile: true,
    logLevel: "silent",
    plugins: [onlyWiring],
  };
}

/** What a bundle's metafile says it holds that it must not (empty when it is only the wiring). */
export function forbiddenInputs(metafile: Metafile): string[] {
  return Object.keys(metafile.inputs).filter((input) => !allowedInBundle(input));
}

/**
 * Builds the bundle of `entry` (src/cli/main.ts unless a test says otherwise)
 * to `outfile`; throws on any esbuild warning (e.g. import.meta, empty in
 * CommonJS) or forbidden input.
 */
export async function buildCliBundle(outfile: string, entry?: string): Promise<Metafile> {
  const result = await build(cliBundleOptions(outfile, entry));
  if (result.warnings.length > 0) {
    throw new Error(
      `CLI bundle: ${result.warnings.map((w) => `${w.location?.file ?? ""}: ${w.text}`).join("; ")}`,
    );
  }
  const forbidden = forbiddenInputs(result.metafile);
  if (forbidden.length > 0) {
    throw new Error(
      `CLI bundle: ${forbidden.join(", ")} would load at every start; only the command wiring ` +
        "(src/cli/*.ts except *-run.ts and errors.ts, and commander) may be imported statically from src/cli/main.ts. " +
        "Load the rest with `await import()` of a *-run.ts module.",
    );
  }
  return result.metafile;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  try {
    await buildCliBundle(join(ROOT, "dist", "cli", "srvutil.cjs"));
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
