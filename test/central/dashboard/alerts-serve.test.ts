import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningCentral } from "../../../src/central/central-process.js";
import { type Receiver, startReceiver } from "../alerts/http-receiver.js";
import { ADMIN, DashboardClient, dashboardCentral } from "./http-client.js";

/**
 * `central serve` hands its alerting to the dashboard: with
 * SRVUTIL_ALERTS_CONFIG naming a webhook, /alerts/channels (over a real
 * socket) lists it and "Send test" reaches the receiver through the very
 * channel the alert service sends with.
 */
describe("the alerts pages of a running central", () => {
  let c: RunningCentral & { dataDir: string };
  let receiver: Receiver;
  let dir = "";
  beforeAll(async () => {
    receiver = await startReceiver(() => ({ status: 200, body: "received" }));
    dir = mkdtempSync(path.join(os.tmpdir(), "srvutil-alerts-serve-"));
    const file = path.join(dir, "alerts.json");
    writeFileSync(
      file,
      JSON.stringify({
        channels: [{ name: "ops-hook", type: "webhook", url: `${receiver.origin}/in/serve-secret-41` }],
      }),
    );
    c = await dashboardCentral({ SRVUTIL_ALERTS_CONFIG: file });
  });
  afterAll(async () => {
    await c?.close();
    await receiver?.close();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("lists the configured channel and sends its test", async () => {
    const client = new DashboardClient(c.url);
    expect((await client.signIn(ADMIN)).status).toBe(303);
    const alerts = await client.get("/alerts");
    expect(alerts.status).toBe(200);
    expect(alerts.text).toContain("Nothing is firing or pending.");
    const page = await client.get("/alerts/channels");
    expect(page.status).toBe(200);
    expect(page.text).toContain(`webhook channel &quot;ops-hook&quot; (${receiver.origin})`);
    expect(page.text).not.toContain("No SRVUTIL_ALERTS_CONFIG");
    const sent = await client.post("/alerts/channels/test", { name: "ops-hook" });
    expect(sent.status).toBe(200);
    expect(sent.text).toContain('The channel answered: <span class="answer">HTTP 200 OK: received</span>');
    expect(receiver.requests.map((r) => r.path)).toEqual(["/in/serve-secret-41"]);
    expect(sent.text).not.toContain("serve-secret-41");
  }, 30_000);
});
