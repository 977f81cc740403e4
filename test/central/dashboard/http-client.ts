import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type RunningCentral, startCentral } from "../../../src/central/central-process.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import { addUser } from "../../../src/central/dashboard/users.js";
import { type HttpAnswer, httpRequest, setCookies } from "../../helpers/http.js";

export const ADMIN = { name: "alice", password: "correct horse battery" };

/** `central serve` in-process (SQLite, the real clock) with one admin user; close() removes its data. */
export async function dashboardCentral(
  env: Record<string, string> = {},
): Promise<RunningCentral & { dataDir: string }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "srvutil-dash-http-"));
  const central = await startCentral(
    loadCentralConfig({
      SRVUTIL_DATA_DIR: dataDir,
      SRVUTIL_LISTEN: "127.0.0.1:0",
      SRVUTIL_REPORT_CRON: "off",
      ...env,
    }),
  );
  await addUser(central.store.users, { ...ADMIN, role: "admin", now: Date.now() });
  return {
    ...central,
    dataDir,
    close: async () => {
      await central.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A browser's part of the dashboard over a real socket: keeps cookies, picks
 * up the CSRF token of the last form, speaks from `localAddress` and adds
 * `headers` (a proxy's X-Forwarded-For) to every request.
 */
export class DashboardClient {
  readonly cookies = new Map<string, string>();
  csrf = "";

  constructor(
    readonly base: string,
    readonly localAddress = "127.0.0.1",
    readonly headers: Record<string, string> = {},
  ) {}

  private cookieHeader(): Record<string, string> {
    if (this.cookies.size === 0) return {};
    return { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ") };
  }

  private keep(a: HttpAnswer): HttpAnswer {
    for (const line of setCookies(a)) {
      const [pair] = line.split(";");
      const i = pair!.indexOf("=");
      const value = pair!.slice(i + 1);
      if (value === "") this.cookies.delete(pair!.slice(0, i));
      else this.cookies.set(pair!.slice(0, i), value);
    }
    const m = /name="_csrf" value="([^"]+)"/.exec(a.text);
    if (m !== null) this.csrf = m[1]!;
    return a;
  }

  async get(url: string): Promise<HttpAnswer> {
    return this.keep(
      await httpRequest(this.base + url, {
        localAddress: this.localAddress,
        headers: { ...this.headers, ...this.cookieHeader() },
      }),
    );
  }

  /** POST of an x-www-form-urlencoded body given as is (so hostile encodings reach the server unchanged). */
  async postRaw(url: string, body: string): Promise<HttpAnswer> {
    return this.keep(
      await httpRequest(this.base + url, {
        method: "POST",
        localAddress: this.localAddress,
        headers: {
          ...this.headers,
          ...this.cookieHeader(),
          "content-type": "application/x-www-form-urlencoded",
        },
        body,
      }),
    );
  }

  /** POST of form fields, with this client's CSRF token unless `_csrf` is among them. */
  post(url: string, fields: Record<string, string>): Promise<HttpAnswer> {
    return this.postRaw(url, new URLSearchParams({ _csrf: this.csrf, ...fields }).toString());
  }

  /** The sign-in form, then the sign-in; resolves to the POST's answer. */
  async signIn(user: { name: string; password: string }, next = "/"): Promise<HttpAnswer> {
    await this.get("/login");
    return this.post("/login", { username: user.name, password: user.password, next });
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
