import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import { type Alerting, loadAlerting } from "../../../src/central/alerts/setup.js";
import type { AlertEpisode, NotificationBatch } from "../../../src/central/alerts/types.js";
import { loadCentralConfig } from "../../../src/central/config.js";
import type { Storage } from "../../../src/central/storage/store.js";
import { alertCommit, alertEpisode } from "../../helpers/alerts.js";
import { type Receiver, startReceiver } from "../alerts/http-receiver.js";
import { ADMIN, type DashboardHarness, type HarnessOptions, InjectClient, VIEWER } from "./harness.js";

/*
 * The alerts pages' tests' setup (alerts-pages.test.ts,
 * alerts-channels.test.ts): a dashboard on the real clock with two real
 * webhook channels (SRVUTIL_ALERTS_CONFIG read by loadAlerting, with the
 * harness's groups) posting to a loopback receiver that takes one
 * ("ops-hook") and answers the other ("broken-hook") 500, echoing its path;
 * five alerts, a hostile one among them; an admin and a viewer signed in.
 */

export const MIN = 60_000;
export const DAY = 86_400_000;
export const HOSTILE_SERVER = "db-<script>alert(1)</script>";
export const HOSTILE_SUMMARY = "Disk \u001b[31m<script>alert(2)</script> full\u0007 soon";
export const HOSTILE_MOUNT = "/mnt/<i>x\u0001";
/** The secret parts of the channels' URLs and the signing key: never on a page or in the log. */
export const OK_TOKEN = "tok3n-ok-5f2a9c";
export const REFUSE_TOKEN = "TOPSECRET-9876";
export const SIGNING_KEY = "signing-secret-123";

export const cookieOf = (c: InjectClient) => [...c.cookies].map(([k, v]) => `${k}=${v}`).join("; ");

/** One evaluation's commit from the stored version: episodes and outbox rows. */
export async function commit(
  store: Storage,
  o: { inserts?: Omit<AlertEpisode, "id">[]; notifications?: NotificationBatch[] },
): Promise<void> {
  const { version } = await store.alerts.readOpen();
  const now = Date.now();
  expect(
    await store.alerts.commitEvaluation(
      alertCommit(now, {
        expectedVersion: version,
        inserts: o.inserts ?? [],
        notifications: o.notifications ?? [],
      }),
    ),
  ).toBe(true);
}

/** The table row whose header cell is `name` (its <tr>…</tr>). */
export function rowOf(body: string, name: string): string {
  const row = body.split("<tr>").find((r) => r.startsWith(`<th scope="row">${name}</th>`));
  expect(row, name).toBeDefined();
  return row!.slice(0, row!.indexOf("</tr>"));
}

export interface AlertsDashboard {
  h: DashboardHarness;
  receiver: Receiver;
  admin: InjectClient;
  viewer: InjectClient;
}

/** Registers the setup and teardown in the calling describe; the returned getter holds them once set up. */
export function useAlertsDashboard(
  skipReason: string | undefined,
  make: (options?: HarnessOptions) => Promise<DashboardHarness>,
): () => AlertsDashboard {
  let t: AlertsDashboard | undefined;
  let alerting: Alerting | undefined;
  let receiver: Receiver | undefined;
  let dir = "";
  beforeAll(async () => {
    if (skipReason !== undefined) return;
    receiver = await startReceiver((req) =>
      req.path.includes("/refuse/")
        ? { status: 500, body: `boom at ${req.path}` }
        : { status: 200, body: "thanks, got it" },
    );
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-alerts-dash-"));
    const file = path.join(dir, "alerts.json");
    writeFileSync(
      file,
      JSON.stringify({
        channels: [
          {
            name: "ops-hook",
            type: "webhook",
            url: `${receiver.origin}/hook/ok/${OK_TOKEN}`,
            secret: SIGNING_KEY,
          },
          { name: "broken-hook", type: "webhook", url: `${receiver.origin}/hook/refuse/${REFUSE_TOKEN}` },
        ],
      }),
    );
    // The groups the harness's dashboard has (web-* in "web"), as the central reads them.
    const groups = path.join(dir, "groups.json");
    writeFileSync(
      groups,
      JSON.stringify({ groups: [{ name: "web", servers: ["web-*"], to: ["web@example.com"] }] }),
    );
    alerting = loadAlerting(
      loadCentralConfig({
        SRVUTIL_DATA_DIR: dir,
        SRVUTIL_ALERTS_CONFIG: file,
        SRVUTIL_GROUPS_FILE: groups,
        SRVUTIL_REPORT_TO: "ops@example.com",
      }),
      {},
    );
    const h = await make({ clock: Date.now, alerting: { ...alerting, configFile: file } });
    const now = Date.now();
    await commit(h.store, {
      inserts: [
        alertEpisode(now),
        alertEpisode(now, {
          server: HOSTILE_SERVER,
          rule: "disk_nearly_full",
          mount: HOSTILE_MOUNT,
          severity: "critical",
          summary: HOSTILE_SUMMARY,
        }),
        alertEpisode(now, {
          server: "web-02",
          rule: "memory_pressure",
          state: "pending",
          firingAt: null,
          lastNotifiedAt: null,
          summary: "memory above 90 % for 5 minutes",
        }),
        alertEpisode(now, {
          server: "web-01",
          rule: "memory_trend",
          state: "resolved",
          summary: "memory full within 48 hours at its trend",
          startedAt: now - 3 * DAY - 150 * MIN,
          firingAt: now - 3 * DAY - 125 * MIN,
          resolvedAt: now - 3 * DAY,
          updatedAt: now - 3 * DAY,
        }),
        alertEpisode(now, {
          server: "web-02",
          rule: "server_silent",
          state: "resolved",
          severity: "critical",
          summary: "no sample for 75 minutes (an old one)",
          startedAt: now - 10 * DAY - 2 * 60 * MIN,
          firingAt: now - 10 * DAY - 60 * MIN,
          resolvedAt: now - 10 * DAY,
          updatedAt: now - 10 * DAY,
        }),
      ],
    });
    const admin = new InjectClient(h.app);
    await admin.signIn(ADMIN);
    const viewer = new InjectClient(h.app);
    await viewer.signIn(VIEWER);
    t = { h, receiver, admin, viewer };
  });
  afterAll(async () => {
    await t?.h.close();
    alerting?.mail.close();
    await receiver?.close();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });
  beforeEach((ctx) => {
    if (skipReason !== undefined) ctx.skip(skipReason);
  });
  return () => t!;
}
