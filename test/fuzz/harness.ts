/**
 * The fuzz suite's one property and its bookkeeping. Every generated request
 * goes through `FuzzRun.exchange` (or `checkExchange`), which holds it to:
 *
 * - the answer is a 4xx or a clean 2xx/3xx: never a 5xx, never a thrown
 *   error, never a dropped connection;
 * - the answer is bounded in size, and a redirect stays on the site;
 * - a refused request (4xx) stores nothing: the stored-state counts and the
 *   files under received_metrics/ are the same before and after it;
 * - no automation.log line beyond a bound.
 *
 * A violation fails the test with the request that caused it, unless it is a
 * documented finding of another part of issue 24 (./known-findings.ts).
 * Also here: the fixed, logged seeds, the input budget, memory accounting.
 */
import v8 from "node:v8";
import vm from "node:vm";
import fc from "fast-check";
import { type FuzzCentral, fileSize, type StoredState } from "./central.js";
import { type KnownFinding, matchKnownFinding, type Violation } from "./known-findings.js";
import { type Answer, type FuzzRequest, viaInject } from "./transport.js";

/** Base seed of every property; `SRVUTIL_FUZZ_SEED=N npx vitest run test/fuzz` replays or explores another. */
export const FUZZ_BASE_SEED = Number(process.env.SRVUTIL_FUZZ_SEED ?? 20_260_524);

/**
 * The fixed seed of one property (base seed + a hash of its name), logged
 * so that a failure names what replays it; fast-check prints seed and path
 * of a counterexample too.
 */
export function fuzzSeed(property: string): number {
  let h = 2166136261;
  for (let i = 0; i < property.length; i++) h = Math.imul(h ^ property.charCodeAt(i), 16777619);
  return (FUZZ_BASE_SEED + (h >>> 0)) | 0;
}

/**
 * fast-check parameters of a property: its fixed seed and run count, logged,
 * and a reporter that names seed, path and the broken request without
 * printing a multi-megabyte counterexample in full.
 */
export function fuzzParams<Ts>(property: string, numRuns: number): fc.Parameters<Ts> {
  const seed = fuzzSeed(property);
  console.info(`[fuzz] ${property}: seed=${seed} runs=${numRuns} (base ${FUZZ_BASE_SEED})`);
  return {
    seed,
    numRuns,
    reporter: (details) => {
      if (!details.failed) return;
      const example = fc.stringify(details.counterexample);
      const cause =
        details.errorInstance instanceof Error
          ? details.errorInstance.message
          : String(details.errorInstance);
      throw new Error(
        [
          `fuzz property ${property} failed after ${details.numRuns} runs (shrunk ${details.numShrinks} times)`,
          `replay: SRVUTIL_FUZZ_SEED=${FUZZ_BASE_SEED} (this property's seed ${details.seed}, path "${details.counterexamplePath}")`,
          cause,
          `counterexample: ${example.slice(0, 2000)}${example.length > 2000 ? ` … (${example.length} chars)` : ""}`,
        ].join("\n"),
      );
    },
  };
}

/** Largest answer allowed: errors and redirects are short; pages (of any status) and archived report files are bounded too. */
export const MAX_REFUSAL_BYTES = 64 * 1024;
export const MAX_PAGE_BYTES = 4 * 1024 * 1024;
/** Most Logs/automation.log may grow by for one request (a line per upload, sign-in, refusal). */
export const MAX_LOG_GROWTH_BYTES = 64 * 1024;

/** What a test may check after the shared property held. */
export interface Exchange {
  request: FuzzRequest;
  answer: Answer;
  before: StoredState;
  after: StoredState;
}

/**
 * Sends one request (inject unless `send` says otherwise) and lists what
 * breaks the suite's property: a 5xx or no answer, an answer too large, a
 * redirect off the site, anything stored by a refused request, a log line
 * too large.
 */
export async function checkExchange(
  c: FuzzCentral,
  request: FuzzRequest,
  send?: () => Promise<Answer>,
): Promise<{ answer: Answer | null; before: StoredState; after: StoredState; violations: Violation[] }> {
  const before = await c.stored();
  const logBefore = fileSize(c.config.paths.automationLog);
  let answer: Answer;
  try {
    answer = await (send ?? (() => viaInject(c.app, request)))();
  } catch (err) {
    return {
      answer: null,
      before,
      after: before,
      violations: [{ kind: "no-answer", detail: (err as Error).message }],
    };
  }
  const after = await c.stored();
  const violations: Violation[] = [];
  if (answer.status >= 500) violations.push({ kind: "5xx", detail: `status ${answer.status}` });
  else if (answer.status < 200) violations.push({ kind: "bad-status", detail: `status ${answer.status}` });
  // A dashboard page is a page whatever its status (a refused form shows the page again); other refusals are short.
  const isPage = /^text\/html/.test(String(answer.headers["content-type"] ?? ""));
  const bound = answer.status >= 300 && !isPage ? MAX_REFUSAL_BYTES : MAX_PAGE_BYTES;
  if (answer.body.length > bound) {
    violations.push({ kind: "answer-size", detail: `${answer.body.length} bytes > ${bound}` });
  }
  if (answer.status >= 300 && answer.status < 400) {
    const problem = redirectProblem(answer.headers.location);
    if (problem !== null) violations.push({ kind: "redirect", detail: problem });
  }
  if (answer.status >= 400) {
    const changed = Object.keys(before).filter((k) => before[k] !== after[k]);
    if (changed.length > 0) {
      violations.push({
        kind: "stored-on-refusal",
        detail: changed.map((k) => `${k} ${before[k]} -> ${after[k]}`).join(", "),
      });
    }
  }
  // Rotation can shrink the file; only growth counts.
  const logGrowth = fileSize(c.config.paths.automationLog) - logBefore;
  if (logGrowth > MAX_LOG_GROWTH_BYTES) {
    violations.push({
      kind: "log-size",
      detail: `automation.log grew ${logGrowth} bytes > ${MAX_LOG_GROWTH_BYTES}`,
    });
  }
  return { answer, before, after, violations };
}

/** A full garbage collection, so that retained memory can be measured (V8's gc, exposed at run time). */
const fullGc: () => void = (() => {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
})();

/** Memory still reachable after a full GC: the JS heap and the Buffers and other memory outside it. */
export function retainedBytes(): number {
  fullGc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

export interface RunStats {
  /** Reachable memory (heap + external, after a full GC) at the end minus at the start. */
  retainedGrowthBytes: number;
  rssGrowthBytes: number;
  peakRssBytes: number;
  /** The request after which RSS had grown the most, and by how much. */
  largestRssStep: { bytes: number; request: string };
  rejections: unknown[];
}

/**
 * One fuzz file's run: sends each request, checks the shared property,
 * counts inputs and answers by status, and keeps the known findings it met
 * (with one example each).
 */
export class FuzzRun {
  inputs = 0;
  readonly statuses = new Map<number, number>();
  readonly findingsMet = new Map<string, { count: number; example: string }>();
  private readonly retainedStart = retainedBytes();
  private readonly rssStart = process.memoryUsage().rss;
  private readonly cpuStart = process.cpuUsage();
  private readonly wallStart = performance.now();
  private peakRss = this.rssStart;
  private largestRssStep = { bytes: 0, request: "" };
  private readonly rejections: unknown[] = [];
  private readonly onRejection = (reason: unknown) => this.rejections.push(reason);
  private readonly onException = (err: unknown) => this.rejections.push(err);

  constructor(
    readonly c: FuzzCentral,
    readonly name: string,
  ) {
    process.on("unhandledRejection", this.onRejection);
    process.on("uncaughtException", this.onException);
  }

  /**
   * Sends one request and holds it to the property. `send` picks the
   * transport (inject by default). Returns the exchange for further checks.
   */
  async exchange(request: FuzzRequest, send?: () => Promise<Answer>): Promise<Exchange> {
    const rssBefore = process.memoryUsage().rss;
    const checked = await checkExchange(this.c, request, send);
    const { answer, before, after, violations } = checked;
    this.count(answer?.status ?? 0);
    const rss = process.memoryUsage().rss;
    if (rss > this.peakRss) this.peakRss = rss;
    if (rss - rssBefore > this.largestRssStep.bytes) {
      this.largestRssStep = {
        bytes: rss - rssBefore,
        request: `${request.method} ${request.url.slice(0, 80)} (${request.body?.length ?? 0} bytes) -> ${answer?.status ?? "none"}`,
      };
    }
    if (answer === null || violations.length > 0)
      return this.violation(request, answer, before, after, violations);
    return { request, answer, before, after };
  }

  private count(status: number): void {
    this.inputs++;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }

  private violation(
    request: FuzzRequest,
    answer: Answer | null,
    before: StoredState,
    after: StoredState,
    violations: Violation[],
  ): Exchange {
    const known: KnownFinding | null = matchKnownFinding(request, answer, violations);
    const text = describeExchange(request, answer, violations);
    if (known === null) throw new Error(`fuzz property broken (${this.name}):\n${text}`);
    const met = this.findingsMet.get(known.id) ?? { count: 0, example: text };
    met.count++;
    this.findingsMet.set(known.id, met);
    return {
      request,
      answer: answer ?? { status: 0, headers: {}, body: Buffer.alloc(0) },
      before,
      after,
    };
  }

  /** Stops listening for unhandled rejections; memory and what was seen while the run was on. */
  stop(): RunStats {
    process.off("unhandledRejection", this.onRejection);
    process.off("uncaughtException", this.onException);
    // After a full GC, so that garbage not yet collected does not count as growth.
    const retained = retainedBytes();
    const rss = process.memoryUsage().rss;
    return {
      retainedGrowthBytes: retained - this.retainedStart,
      rssGrowthBytes: rss - this.rssStart,
      peakRssBytes: Math.max(this.peakRss, rss),
      largestRssStep: this.largestRssStep,
      rejections: this.rejections,
    };
  }

  /** Inputs, answers by status, memory, and each known finding met with an example, for the log of the run. */
  summary(stats: RunStats): string {
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
    const statuses = [...this.statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`);
    const cpu = process.cpuUsage(this.cpuStart);
    const lines = [
      `[fuzz] ${this.name}: ${this.inputs} inputs (${statuses.join(", ")}) in ${((performance.now() - this.wallStart) / 1000).toFixed(1)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (app and test in one process)`,
      `[fuzz] ${this.name}: retained memory growth ${mib(stats.retainedGrowthBytes)}, RSS growth ${mib(stats.rssGrowthBytes)}, peak RSS ${mib(stats.peakRssBytes)}, largest RSS step ${mib(stats.largestRssStep.bytes)} after ${stats.largestRssStep.request}, automation.log ${fileSize(this.c.config.paths.automationLog)} bytes`,
    ];
    for (const [id, met] of this.findingsMet) {
      lines.push(
        `[fuzz]   known finding ${id}: ${met.count}x, e.g.\n${met.example.replace(/^/gm, "      ")}`,
      );
    }
    return lines.join("\n");
  }

  /**
   * The end of every fuzz file: the app still answers, the file sent its
   * budget, no rejection went unhandled, memory stayed bounded.
   */
  async finish(budget: number): Promise<void> {
    const health = await this.c.app.inject("/healthz");
    const stats = this.stop();
    console.info(this.summary(stats));
    if (health.statusCode !== 200) throw new Error(`/healthz answers ${health.statusCode} after the run`);
    if (this.inputs < budget)
      throw new Error(`${this.name}: sent ${this.inputs} inputs, fewer than its budget ${budget}`);
    if (stats.rejections.length > 0) {
      throw new Error(
        `${this.name}: unhandled rejections or exceptions: ${stats.rejections.map(String).join("; ")}`,
      );
    }
    // Generous bounds: what is still reachable after a full GC must not
    // have grown with the thousands of requests, and the process as a whole
    // (app and test in one) must not have grown by more than a few hundred MiB.
    if (stats.retainedGrowthBytes > MAX_RETAINED_GROWTH_BYTES) {
      throw new Error(
        `${this.name}: retained memory grew ${stats.retainedGrowthBytes} bytes > ${MAX_RETAINED_GROWTH_BYTES}`,
      );
    }
    if (stats.rssGrowthBytes > MAX_RSS_GROWTH_BYTES) {
      throw new Error(`${this.name}: RSS grew ${stats.rssGrowthBytes} bytes > ${MAX_RSS_GROWTH_BYTES}`);
    }
  }
}

/** Bounds on memory over one fuzz file (see FuzzRun.finish). */
export const MAX_RETAINED_GROWTH_BYTES = 96 * 2 ** 20;
export const MAX_RSS_GROWTH_BYTES = 640 * 2 ** 20;

/**
 * A clean redirect stays on this site: a path (not `//host`, not `/\\host`),
 * no tab, line break or other control character a browser would strip to make it one.
 */
export function redirectProblem(location: string | string[] | undefined): string | null {
  if (typeof location !== "string") return `Location is ${JSON.stringify(location)}`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  if (!location.startsWith("/") || /^\/[\\/]|[\u0000-\u001f\u007f\\]/.test(location)) {
    return `Location ${JSON.stringify(location.slice(0, 200))} is not a plain same-site path`;
  }
  const base = "http://127.0.0.1";
  if (new URL(location, base).origin !== base)
    return `Location ${JSON.stringify(location.slice(0, 200))} leaves the site`;
  return null;
}

/** Request and answer, clipped, printable: control bytes and invalid UTF-8 shown as escapes. */
export function describeExchange(
  request: FuzzRequest,
  answer: Answer | null,
  violations: Violation[],
): string {
  const show = (v: string | Buffer | undefined, max: number) => {
    if (v === undefined) return "(none)";
    const s = Buffer.isBuffer(v) ? v.toString("latin1") : v;
    return `${JSON.stringify(s.slice(0, max))}${s.length > max ? ` … (${s.length} chars)` : ""}`;
  };
  const headers = Object.entries(request.headers ?? {})
    .map(([k, v]) => `  ${k}: ${show(Array.isArray(v) ? v.join(", ") : v, 200)}`)
    .join("\n");
  return [
    `violations: ${violations.map((v) => `${v.kind} (${v.detail})`).join("; ")}`,
    `request: ${request.method} ${show(request.url, 300)}`,
    headers,
    `body: ${show(request.body, 600)}`,
    answer === null ? "answer: none" : `answer: ${answer.status} ${show(answer.body.toString("utf8"), 400)}`,
  ]
    .filter((l) => l !== "")
    .join("\n");
}

/**
 * The inputs each fuzz file sends, by file and property (fast-check runs).
 * findings.test.ts holds the sum to issue 24's "at least 10,000"; each file
 * checks at its end that it really sent its share (FuzzRun.finish).
 */
export const FUZZ_BUDGET = {
  "upload.test.ts": { csv: 1_200, bodies: 700, envelopes: 800, sizes: 40 },
  "postgres.test.ts": { csv: 250, envelopes: 200, seedForms: 150, forms: 150, login: 60 },
  "seed-bridge.test.ts": { lines: 550, forms: 500, bytes: 300 },
  "read-api.test.ts": { samples: 1_800, routes: 900, auth: 500 },
  "dashboard.test.ts": { pages: 700, forms: 600, login: 150, next: 30 },
  "headers.test.ts": { headers: 900, targets: 300 },
  "exposition.test.ts": { texts: 600, broken: 300, mutations: 400, sizes: 60 },
  "remote-write.test.ts": { bytes: 250, mutations: 350, lengths: 200, fields: 250, labels: 150 },
  "otlp.test.ts": { otlpProtobuf: 1_100, otlpJson: 1_000, telegraf: 1_000, collectd: 1_000, envelopes: 500 },
} as const;

/** Inputs a fuzz file sends in all. */
export function budgetOf(file: keyof typeof FUZZ_BUDGET): number {
  return Object.values(FUZZ_BUDGET[file]).reduce((a: number, b: number) => a + b, 0);
}
