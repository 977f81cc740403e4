import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

/** A module for a worker thread to import, and tsx's loader API when it is TypeScript source. */
export interface WorkerModuleTarget {
  moduleUrl: string;
  /** tsx's `tsImport` module, to load `moduleUrl` with; null: a plain import does. */
  tsxApi: string | null;
}

/**
 * Where a worker finds `moduleUrl` (a `.js` URL next to the caller): the
 * compiled file when it exists (dist/), else the `.ts` source with tsx's
 * loader API (running from source: tests, `node --import tsx`). A worker
 * has no loader of its own, so the worker code imports `tsxApi` first and
 * calls its `tsImport(moduleUrl, moduleUrl)`.
 */
export function workerModuleTarget(moduleUrl: string): WorkerModuleTarget {
  const file = fileURLToPath(moduleUrl);
  if (existsSync(file)) return { moduleUrl, tsxApi: null };
  const source = file.replace(/\.js$/, ".ts");
  if (!existsSync(source)) return { moduleUrl, tsxApi: null };
  let tsxApi: string | null = null;
  try {
    // tsx's programmatic API (ESM build): tsImport loads one .ts module with its own loader.
    const api = createRequire(import.meta.url)
      .resolve("tsx/esm/api")
      .replace(/\.cjs$/, ".mjs");
    tsxApi = pathToFileURL(api).href;
  } catch {
    // No tsx (production install without dev dependencies): the worker's import fails, and its owner falls back.
  }
  return { moduleUrl: pathToFileURL(source).href, tsxApi };
}

/** The worker-side line that imports a WorkerModuleTarget passed as `workerData.target` (CommonJS source). */
export const IMPORT_TARGET_SOURCE = `(workerData.target.tsxApi !== null
  ? import(workerData.target.tsxApi).then((api) => api.tsImport(workerData.target.moduleUrl, workerData.target.moduleUrl))
  : import(workerData.target.moduleUrl))`;
