import { afterEach, describe, expect, it } from "vitest";
import { ServerInputRecorder } from "../../../src/central/ingest/server-inputs.js";
import {
  INPUT_ERROR_MAX_CHARS,
  type InputObservation,
  type ServerInputStore,
} from "../../../src/central/storage/server-input-store.js";
import { type StoreBackend, storeBackends, type TempStore } from "../../helpers/store-backends.js";

/**
 * store.serverInputs on SQLite and PostgreSQL: what one instance records,
 * another lists; each field keeps its newest value whatever order two
 * instances write in; an error stays visible after a later success, which
 * marks it older; hostile texts are cleaned and bounded. And the recorder in
 * front of it writes only on a change or every few minutes.
 */
const BACKENDS = await storeBackends();
const AGENT = { version: "0.2.0", platform: "linux", arch: "x64", os: "Linux 6.8.0-45-generic" };

describe.each(BACKENDS)("store.serverInputs: $name", (backend: StoreBackend) => {
  let t: TempStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });
  const open = async (ctx: { skip: (why: string) => void }) => {
    if (backend.skipReason !== undefined) ctx.skip(backend.skipReason);
    t = await backend.make();
    return { a: t.store, b: await t.another() };
  };
  const now = Date.now();
  const obs = (over: Partial<InputObservation> = {}): InputObservation => ({
    server: "web-01",
    input: "agent",
    at: now,
    agent: AGENT,
    outcome: "ok",
    ...over,
  });

  it("lists what another instance recorded; the newest observation decides input and identity", async (ctx) => {
    const { a, b } = await open(ctx);
    expect(await b.serverInputs.list()).toEqual([]);
    await a.serverInputs.record(obs({ server: "web-02", input: "telegraf", agent: null }));
    await a.serverInputs.record(obs({ at: now - 60_000 }));
    // An older observation written later (another instance a moment behind) changes nothing it decides.
    await b.serverInputs.record(obs({ at: now - 120_000, agent: { ...AGENT, version: "0.1.0" } }));
    expect(await b.serverInputs.list()).toEqual([
      {
        server: "web-01",
        input: "agent",
        agentVersion: "0.2.0",
        platform: "linux",
        arch: "x64",
        os: "Linux 6.8.0-45-generic",
        lastSeenAt: now - 60_000,
        lastSuccessAt: now - 60_000,
        lastError: null,
      },
      {
        server: "web-02",
        input: "telegraf",
        agentVersion: null,
        platform: null,
        arch: null,
        os: null,
        lastSeenAt: now,
        lastSuccessAt: now,
        lastError: null,
      },
    ]);
  });

  it("keeps a refused upload's error after a later success, which is newer; a whoami changes neither", async (ctx) => {
    const { a, b } = await open(ctx);
    await a.serverInputs.record(obs({ at: now - 300_000 }));
    await a.serverInputs.record(
      obs({ at: now - 200_000, outcome: { code: "SRVUTIL_E_FORBIDDEN_SERVER", message: "names web-99" } }),
    );
    let [row] = await b.serverInputs.list();
    expect(row?.lastError).toEqual({
      code: "SRVUTIL_E_FORBIDDEN_SERVER",
      message: "names web-99",
      at: now - 200_000,
    });
    expect(row?.lastSuccessAt).toBe(now - 300_000);
    await b.serverInputs.record(obs({ at: now - 100_000 }));
    await a.serverInputs.record(obs({ at: now, outcome: null }));
    [row] = await a.serverInputs.list();
    expect(row?.lastError?.at).toBe(now - 200_000);
    expect(row?.lastSuccessAt).toBe(now - 100_000);
    expect(row?.lastSeenAt).toBe(now);
    // An older error arriving late does not replace the newer one.
    await b.serverInputs.record(obs({ at: now - 250_000, outcome: { code: "SRVUTIL_E_OLD", message: "x" } }));
    expect((await a.serverInputs.list())[0]?.lastError?.code).toBe("SRVUTIL_E_FORBIDDEN_SERVER");
  });

  it("stores a hostile error cleaned and bounded, and a code not of the SRVUTIL_E_ shape as SRVUTIL_E_BAD_REQUEST", async (ctx) => {
    const { a } = await open(ctx);
    const hostile = `<script>alert(1)</script>\u0000\u001b[2J\r\n${"é".repeat(10_000)}`;
    await a.serverInputs.record(obs({ outcome: { code: "<b>SRVUTIL_E_X</b>", message: hostile } }));
    const [row] = await a.serverInputs.list();
    expect(row?.lastError?.code).toBe("SRVUTIL_E_BAD_REQUEST");
    const message = row?.lastError?.message ?? "";
    expect([...message]).toHaveLength(INPUT_ERROR_MAX_CHARS);
    expect(message.startsWith("<script>alert(1)</script> [2J éé")).toBe(true);
    expect(message.endsWith("…")).toBe(true);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: checking that none is left
    expect(message).not.toMatch(/[\u0000-\u001f]/);
  });

  it("the recorder writes on a change, a new error, the first success after it, and every 5 minutes otherwise", async (ctx) => {
    const { a } = await open(ctx);
    const writes: InputObservation[] = [];
    const counting: ServerInputStore = {
      record: async (o) => {
        writes.push(o);
        await a.serverInputs.record(o);
      },
      list: () => a.serverInputs.list(),
      pruneUnknown: (before) => a.serverInputs.pruneUnknown(before),
    };
    let clock = Date.now();
    const recorder = new ServerInputRecorder(counting, null, () => clock);
    const upload = (over: Partial<InputObservation> = {}) =>
      recorder.observe({ server: "web-01", input: "agent", agent: AGENT, outcome: "ok", ...over });
    for (let i = 0; i < 10; i++) {
      await upload();
      clock += 20_000;
    }
    expect(writes).toHaveLength(1);
    const refused = { code: "SRVUTIL_E_CSV_INVALID", message: "line 2" };
    await upload({ outcome: refused });
    await upload({ outcome: refused });
    expect(writes).toHaveLength(2);
    await upload();
    await upload();
    expect(writes).toHaveLength(3);
    await upload({ agent: { ...AGENT, version: "0.3.0" } });
    expect(writes).toHaveLength(4);
    clock += 5 * 60_000;
    await upload({ agent: { ...AGENT, version: "0.3.0" } });
    expect(writes).toHaveLength(5);
    const [row] = await a.serverInputs.list();
    expect(row).toMatchObject({ agentVersion: "0.3.0", lastSeenAt: clock, lastSuccessAt: clock });
    expect(row?.lastError?.code).toBe("SRVUTIL_E_CSV_INVALID");
    expect(row!.lastError!.at).toBeLessThan(row!.lastSuccessAt!);
  });
});
