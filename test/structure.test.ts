import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./helpers/cli.js";

/** A fastify route registration: `app.get(`, `scope.post<{ … }>(`, `instance.route(`, … */
const ROUTE_REGISTRATION =
  /\b(app|scope|fastify|instance|server)\.(get|post|put|delete|patch|head|options|all|route)(<[^>]*>)?\(/;

/** The HTTP layer: the one place a route is registered (issue 26). */
const HTTP_DIR = "src/central/http/";

/** Every line of src/**\/*.ts that registers a route, as "path:line: text". */
function routeRegistrations(): string[] {
  const found: string[] = [];
  const files = readdirSync(path.join(REPO_ROOT, "src"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => `src/${f.split(path.sep).join("/")}`)
    .sort();
  for (const file of files) {
    const lines = readFileSync(path.join(REPO_ROOT, file), "utf8").split("\n");
    lines.forEach((text, i) => {
      if (ROUTE_REGISTRATION.test(text)) found.push(`${file}:${i + 1}: ${text.trim()}`);
    });
  }
  return found;
}

describe("the source tree's structure", () => {
  const registrations = routeRegistrations();

  it("finds the routes of the HTTP layer (the pattern still matches how routes are registered)", () => {
    const inside = registrations.filter((r) => r.startsWith(HTTP_DIR));
    expect(inside.some((r) => r.includes('"/reports/:week/resend"'))).toBe(true);
    expect(inside.some((r) => r.includes('"/login"'))).toBe(true);
  });

  it("no route is registered outside src/central/http/", () => {
    const outside = registrations.filter((r) => !r.startsWith(HTTP_DIR));
    expect(outside, `routes registered outside ${HTTP_DIR}:\n${outside.join("\n")}`).toEqual([]);
  });

  it("the ingest path imports nothing from the HTTP layer (HTTP depends on ingest, not the other way)", () => {
    const ingestFiles = readdirSync(path.join(REPO_ROOT, "src/central/ingest"), {
      recursive: true,
      encoding: "utf8",
    })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => `src/central/ingest/${f.split(path.sep).join("/")}`);
    expect(ingestFiles.length).toBeGreaterThan(5);
    const imports = ingestFiles.flatMap((file) =>
      readFileSync(path.join(REPO_ROOT, file), "utf8")
        .split("\n")
        .filter((line) => /from "[./]*\/http\//.test(line))
        .map((line) => `${file}: ${line.trim()}`),
    );
    expect(imports).toEqual([]);
  });
});
