// Builds the dashboard's browser assets into dist/dashboard/ (part of `npm run build`):
// app.js = web/dashboard/app.ts with uPlot bundled in (no CDN, nothing fetched at
// run time); app.css = uPlot's stylesheet followed by ours.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "dist", "dashboard");

export async function buildDashboardAssets() {
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: [path.join(root, "web", "dashboard", "app.ts")],
    bundle: true,
    minify: true,
    format: "iife",
    target: "es2020",
    outfile: path.join(out, "app.js"),
    logLevel: "warning",
    legalComments: "none",
  });
  const css = [
    await readFile(path.join(root, "node_modules", "uplot", "dist", "uPlot.min.css"), "utf8"),
    await readFile(path.join(root, "web", "dashboard", "app.css"), "utf8"),
  ].join("\n");
  await writeFile(path.join(out, "app.css"), css);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildDashboardAssets();
