/**
 * The alertmanager channel against Debian's real Alertmanager
 * (prometheus-alertmanager 0.25, installed by scripts/provision-test-deps.mjs):
 * started on a loopback port with a null receiver and no cluster, then read
 * back with `amtool alert query -o json` and GET /api/v2/alerts. A missing
 * binary fails the test (requireProgram), never skips it.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firingValidForMs } from "../../../src/central/alerts/channel-types.js";
import { createChannel } from "../../../src/central/alerts/channels/index.js";
import { freePort } from "../../helpers/net.js";
import { requireProgram } from "../../helpers/programs.js";
import { batch, channelConfig, context, HOUR, iso, notice, resolvedNotice } from "./channel-fixtures.js";

const run = promisify(execFile);

interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: string };
}

describe("alertmanager channel → Alertmanager 0.25", () => {
  const alertmanager = requireProgram("prometheus-alertmanager", "prometheus-alertmanager");
  const amtool = requireProgram("amtool", "prometheus-alertmanager");
  let dir: string;
  let url: string;
  let child: ChildProcess | undefined;
  let log = "";

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-am-"));
    writeFileSync(
      path.join(dir, "alertmanager.yml"),
      ["route:", "  receiver: devnull", "receivers:", "  - name: devnull", ""].join("\n"),
    );
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(
      alertmanager,
      [
        `--config.file=${path.join(dir, "alertmanager.yml")}`,
        `--storage.path=${path.join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--cluster.listen-address=",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const keep = (d: Buffer) => {
      log = (log + d).slice(-20_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ready = await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`Alertmanager did not become ready (exit ${child.exitCode})\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 30_000);

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child!.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child!.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** The active alerts as amtool shows them, filtered by matchers. */
  async function amtoolQuery(...matchers: string[]): Promise<GettableAlert[]> {
    const { stdout } = await run(amtool, [
      "alert",
      "query",
      `--alertmanager.url=${url}`,
      "-o",
      "json",
      ...matchers,
    ]);
    return JSON.parse(stdout) as GettableAlert[];
  }

  async function apiAlerts(): Promise<GettableAlert[]> {
    const res = await fetch(`${url}/api/v2/alerts?active=true`);
    expect(res.status).toBe(200);
    return (await res.json()) as GettableAlert[];
  }

  /** Alertmanager lists an alert once its dispatcher has taken it in: poll briefly. */
  async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const value = await probe();
      if (ok(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(value)}\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const channel = () => createChannel(channelConfig("alertmanager", { url, timeoutMs: 5_000 }), context());

  it("a firing batch shows up with srvutil's labels; resolving it ends it", async () => {
    const disk = notice({ server: "am-web-01", startsAt: Date.now() - 2 * HOUR });
    const silent = notice({
      server: "am-db-02",
      rule: "server_silent",
      mount: "",
      severity: "warning",
      summary: "no data for 25 minutes",
      url: "https://srvutil.example.com/servers/am-db-02",
    });
    const answer = await channel().send(batch([disk, silent]));
    expect(answer.status).toBe(200);

    const shown = await eventually(
      () => amtoolQuery("source=srvutil", "server=~am-.*"),
      (alerts) => alerts.length === 2,
      "amtool did not list both alerts",
    );
    const byName = new Map(shown.map((a) => [a.labels.alertname, a]));
    const diskAlert = byName.get("disk_full_soon")!;
    expect(diskAlert.labels).toEqual({
      alertname: "disk_full_soon",
      server: "am-web-01",
      instance: "am-web-01",
      mount: "/var",
      severity: "critical",
      source: "srvutil",
    });
    expect(diskAlert.annotations).toEqual({ summary: disk.summary });
    expect(new Date(diskAlert.startsAt).getTime()).toBe(Math.floor(disk.startsAt / 1000) * 1000);
    expect(diskAlert.generatorURL).toBe(disk.url);
    expect(diskAlert.status.state).toBe("active");
    // No mount label for a rule not about a disk.
    expect(byName.get("server_silent")!.labels).toEqual({
      alertname: "server_silent",
      server: "am-db-02",
      instance: "am-db-02",
      severity: "warning",
      source: "srvutil",
    });

    const resolvedAt = Date.now() - 1000;
    await channel().send(batch([resolvedNotice({ ...disk, kind: "resolved", endsAt: resolvedAt })]));
    const after = await eventually(
      () => amtoolQuery("source=srvutil", "server=~am-.*"),
      (alerts) => alerts.length === 1,
      "the resolved alert is still active",
    );
    expect(after[0]!.labels.alertname).toBe("server_silent");
    const api = await apiAlerts();
    expect(api.some((a) => a.labels.server === "am-web-01")).toBe(false);
    expect(api.some((a) => a.labels.server === "am-db-02")).toBe(true);
  });

  it("a test notification is SrvutilTest, ending by itself a few minutes ahead", async () => {
    const sentAt = Date.now();
    await channel().send(
      batch([notice({ kind: "test", server: "am-test-01", severity: "warning", startsAt: sentAt })]),
    );
    const [alert] = await eventually(
      () => amtoolQuery("alertname=SrvutilTest", "server=am-test-01"),
      (alerts) => alerts.length === 1,
      "amtool did not list the test alert",
    );
    expect(alert!.labels).toMatchObject({
      alertname: "SrvutilTest",
      server: "am-test-01",
      rule: "disk_full_soon",
      severity: "warning",
      source: "srvutil",
    });
    expect(alert!.annotations.description).toContain("test notification");
    const endsIn = new Date(alert!.endsAt).getTime() - sentAt;
    expect(endsIn).toBeGreaterThan(4 * 60_000);
    expect(endsIn).toBeLessThanOrEqual(5 * 60_000 + 1000);
  });

  it("a firing alert ends 4 evaluation intervals after the send unless sent again, and a resend moves its end", async () => {
    const sentAt = Date.now();
    const firing = notice({ server: "am-web-03" });
    const every = (evaluateMs: number) =>
      createChannel(
        channelConfig("alertmanager", { url, timeoutMs: 5_000 }),
        context({ firingValidForMs: firingValidForMs(evaluateMs) }),
      );
    await every(60_000).send(batch([firing]));
    const [alert] = await eventually(
      () => amtoolQuery("server=am-web-03"),
      (alerts) => alerts.length === 1,
      "amtool did not list the alert",
    );
    const endsIn = new Date(alert!.endsAt).getTime() - sentAt;
    expect(endsIn).toBeGreaterThan(4 * 60_000 - 1000);
    expect(endsIn).toBeLessThanOrEqual(4 * 60_000 + 1000);
    expect(alert!.startsAt).toBe(iso(firing.startsAt).replace("Z", ".000Z"));
    // Evaluating every 5 minutes: the same alert, sent again, now ends 20 minutes ahead.
    await every(5 * 60_000).send(batch([firing]));
    const [moved] = await eventually(
      () => amtoolQuery("server=am-web-03"),
      (alerts) => alerts.length === 1 && new Date(alerts[0]!.endsAt).getTime() - sentAt > 19 * 60_000,
      "the resend did not move the alert's end",
    );
    expect(new Date(moved!.endsAt).getTime() - sentAt).toBeLessThanOrEqual(20 * 60_000 + 5000);
    expect(moved!.startsAt).toBe(iso(firing.startsAt).replace("Z", ".000Z"));
  });

  it("a resolved notice whose end precedes its start (clock skew) is still accepted and ends the alert", async () => {
    // Alertmanager answers 400 "start time must be before end time" to such an alert as sent.
    const startsAt = Date.now() - 60_000;
    await channel().send(batch([notice({ server: "am-skew-01", startsAt })]));
    await eventually(
      () => amtoolQuery("server=am-skew-01"),
      (alerts) => alerts.length === 1,
      "amtool did not list the alert",
    );
    const answer = await channel().send(
      batch([
        resolvedNotice({
          server: "am-skew-01",
          rule: "disk_full_soon",
          mount: "/var",
          severity: "critical",
          startsAt,
          endsAt: startsAt - 5_000,
        }),
      ]),
    );
    expect(answer.status).toBe(200);
    await eventually(
      () => amtoolQuery("server=am-skew-01"),
      (alerts) => alerts.length === 0,
      "the resolved alert is still active",
    );
  });
});
