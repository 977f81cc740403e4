/**
 * How the HTTP channels fail, against a real HTTP server on loopback that
 * answers errors, redirects, huge bodies or nothing at all: which failures
 * are permanent, that the deadline holds, and that no secret (the URL's
 * path, a token, the signing secret) is ever shown.
 */
import { describe, expect, it } from "vitest";
import type { ChannelConfig } from "../../../src/central/alerts/channel-types.js";
import {
  ChannelSendError,
  createChannel,
  describeChannel,
} from "../../../src/central/alerts/channels/index.js";
import { batch, channelConfig, context, notice } from "./channel-fixtures.js";
import { useReceivers } from "./http-receiver.js";

const { receiver, only, closeNow } = useReceivers();

describe("failures", () => {
  const SECRET_PATH = "/services/T024BE7LD/B08SECRETXYZ/kq8EbvUw2aSecretToken";
  const TOKEN = "tk_supersecrettoken123";
  const SIGNING = "whsec_signingsecret456";
  /** Every answer echoes the request's path and a token, as careless error pages do. */
  const echo = (status: number, headers?: Record<string, string>) => (req: { path: string }) => ({
    status,
    body: `no route for POST ${req.path} (token ${TOKEN}, secret ${SIGNING})\u0000\u001b[31m`,
    ...(headers !== undefined ? { headers } : {}),
  });

  async function failure(config: ChannelConfig): Promise<ChannelSendError> {
    const err = await createChannel(config, context())
      .send(batch([notice()]))
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ChannelSendError);
    const e = err as ChannelSendError;
    expect(e.category).toBe("unavailable");
    const shown = `${e.message}\n${e.answer?.response ?? ""}\n${describeChannel(config)}`;
    const secrets = [config.token, config.secret].filter((s): s is string => s !== null);
    if (config.url?.includes(SECRET_PATH)) secrets.push(SECRET_PATH, "B08SECRETXYZ", "kq8EbvUw2aSecretToken");
    expect(secrets.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(shown).not.toContain(secret);
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting there are none
    expect(shown.replaceAll("\n", " ")).not.toMatch(/[\u0000-\u001f]/);
    return e;
  }

  const cases: Array<[number, boolean]> = [
    [500, false],
    [503, false],
    [400, true],
    [404, true],
    [408, false],
    [429, false],
  ];
  for (const [status, permanent] of cases) {
    it(`HTTP ${status} is ${permanent ? "permanent" : "worth retrying"}, and shows no secret`, async () => {
      const r = await receiver(echo(status));
      const e = await failure(
        channelConfig("slack", { url: `${r.origin}${SECRET_PATH}`, token: TOKEN, secret: SIGNING }),
      );
      expect(e.permanent).toBe(permanent);
      expect(e.answer?.status).toBe(status);
      expect(e.answer?.response).toMatch(new RegExp(`^HTTP ${status} `));
      expect(e.answer?.response).toContain("no route for POST [redacted]");
      expect(only(r).path).toBe(SECRET_PATH);
    });
  }

  it("a redirect is not followed and is an error", async () => {
    const elsewhere = await receiver();
    const r = await receiver(echo(302, { location: `${elsewhere.origin}${SECRET_PATH}` }));
    const e = await failure(channelConfig("webhook", { url: `${r.origin}${SECRET_PATH}`, secret: SIGNING }));
    expect(e.permanent).toBe(true);
    expect(e.answer?.status).toBe(302);
    expect(e.message).toContain(`redirected to ${elsewhere.origin}`);
    expect(r.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it("a receiver that never answers fails with a timeout within timeout_ms", async () => {
    const r = await receiver(() => "hang");
    const timeoutMs = 700;
    const started = performance.now();
    const e = await failure(
      channelConfig("ntfy", { url: `${r.origin}${SECRET_PATH}`, token: TOKEN, timeoutMs }),
    );
    const elapsed = performance.now() - started;
    expect(e.permanent).toBe(false);
    expect(e.answer).toBeNull();
    expect(e.message).toContain(`no answer within ${timeoutMs} ms`);
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50);
    expect(elapsed).toBeLessThan(timeoutMs + 1500);
  });

  it("a 2xx whose body never ends still counts as accepted (no second message)", async () => {
    const r = await receiver(() => "hang-body");
    const answer = await createChannel(
      channelConfig("webhook", { url: `${r.origin}/hook`, timeoutMs: 500 }),
      context(),
    ).send(batch([notice()]));
    expect(answer.status).toBe(200);
    expect(answer.response).toContain("HTTP 200 OK");
  });

  it("a refused connection is worth retrying", async () => {
    const r = await receiver();
    const url = `${r.origin}${SECRET_PATH}`;
    await closeNow(r);
    const e = await failure(channelConfig("teams", { url }));
    expect(e.permanent).toBe(false);
    expect(e.message).toMatch(/ECONNREFUSED/);
  });

  it("a huge answer is read only up to the cap and clipped", async () => {
    const r = await receiver(() => ({ status: 500, body: "x".repeat(200_000) }));
    const e = await failure(channelConfig("webhook", { url: `${r.origin}${SECRET_PATH}`, secret: SIGNING }));
    expect(e.answer!.response.length).toBeLessThanOrEqual(620);
    expect(e.answer!.response.endsWith("…")).toBe(true);
  });

  it("describeChannel names type, name and host, never the path, query or token", () => {
    const config = channelConfig("teams", {
      url: `https://prod-12.westeurope.logic.azure.com:443${SECRET_PATH}?sig=abcdef123456`,
      token: TOKEN,
    });
    expect(describeChannel(config)).toBe('teams channel "ops" (https://prod-12.westeurope.logic.azure.com)');
    expect(describeChannel(channelConfig("email", { to: ["a@example.com", "b@example.com"] }))).toBe(
      'email channel "ops" (to a@example.com, b@example.com)',
    );
  });
});
