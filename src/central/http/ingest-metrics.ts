import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/**
 * The central's own counters, served at GET /metrics. One registry per app
 * (not prom-client's global one) so several apps in one process — tests,
 * the demo — do not collide.
 */
export class IngestMetrics {
  readonly registry = new Registry();
  readonly uploads = new Counter({
    name: "srvutil_uploads_total",
    help: "Metrics uploads answered, by result (accepted, replay, rejected)",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly rows = new Counter({
    name: "srvutil_rows_total",
    help: "Rows of accepted uploads, by kind (inserted, duplicate)",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly rejections = new Counter({
    name: "srvutil_rejections_total",
    help: "Refused API requests by reason (CSV rule, unauthorized, forbidden_server, too_large, rate_limited, …)",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: "srvutil_upload_duration_seconds",
    help: "Time from request start to the upload's answer, seconds",
    labelNames: ["status"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    // Process metrics (memory, event loop lag) show whether ingest stays flat under load.
    if (options.defaultMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: "srvutil_" });
  }
}
