/**
 * Prometheus metrics (prom-client) on a registry of our own: messages in/out, handler latency, errors.
 *
 * The per-message calls are plain additions to local cells (no label validation, no label hashing, no
 * allocation); prom-client sees them when it is scraped: the counters flush their pending deltas in their
 * `collect` hook, and the latency histogram is a small collector of our own in prom-client's exposition shape.
 */
import { Counter, Registry, collectDefaultMetrics, type Metric, type MetricValueWithName } from "prom-client";
import type { Metrics } from "./core.ts";

/** Upper bounds of the handler latency buckets, in seconds. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];

type Kind = "command" | "conversation" | "other";

/** Pending increments of one label value, flushed into a prom-client counter at scrape time. */
class PendingCounts {
  readonly #cells = new Map<string, { n: number }>();

  add(label: string): void {
    const cell = this.#cells.get(label);
    if (cell === undefined) this.#cells.set(label, { n: 1 });
    else cell.n++;
  }

  flush(into: Counter<string>, labelName: string): void {
    for (const [label, cell] of this.#cells) {
      if (cell.n === 0) continue;
      into.inc({ [labelName]: label }, cell.n);
      cell.n = 0;
    }
  }
}

/** One label set's histogram: per-bucket (not cumulative) counts, sum and count. */
class Series {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(buckets: number) {
    this.counts = new Array<number>(buckets + 1).fill(0);
  }
}

/** A histogram labelled by platform and kind, observed with no allocation; exposed like prom-client's. */
class LatencyHistogram {
  readonly name = "switchboard_handler_seconds";
  readonly help = "Time from accepting a message to finishing its handler";
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #bounds: readonly number[];
  readonly #byPlatform = new Map<string, Record<Kind, Series | undefined>>();

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
  }

  observe(platform: string, kind: Kind, seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    let kinds = this.#byPlatform.get(platform);
    if (kinds === undefined) {
      kinds = { command: undefined, conversation: undefined, other: undefined };
      this.#byPlatform.set(platform, kinds);
    }
    const series = (kinds[kind] ??= new Series(this.#bounds.length));
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    series.counts[i]!++;
    series.sum += seconds;
    series.count++;
  }

  /** prom-client's collector interface: the exposition values (prom-client's typings call `type` an enum; at run time it is this string). */
  get(): Promise<{
    name: string;
    help: string;
    type: string;
    values: MetricValueWithName<string>[];
    aggregator: string;
  }> {
    const values: MetricValueWithName<string>[] = [];
    for (const [platform, kinds] of this.#byPlatform) {
      for (const kind of ["command", "conversation", "other"] as const) {
        const series = kinds[kind];
        if (series === undefined) continue;
        let cumulative = 0;
        for (let i = 0; i < this.#bounds.length; i++) {
          cumulative += series.counts[i]!;
          values.push({
            metricName: `${this.name}_bucket`,
            labels: { le: this.#bounds[i]!, platform, kind },
            value: cumulative,
          });
        }
        values.push({ metricName: `${this.name}_bucket`, labels: { le: "+Inf", platform, kind }, value: series.count });
        values.push({ metricName: `${this.name}_sum`, labels: { platform, kind }, value: series.sum });
        values.push({ metricName: `${this.name}_count`, labels: { platform, kind }, value: series.count });
      }
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: "sum" });
  }

  reset(): void {
    this.#byPlatform.clear();
  }
}

/** Create the metrics of one bot process. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "switchboard_" });
  const pendingIn = new PendingCounts();
  const pendingOut = new PendingCounts();
  new Counter({
    name: "switchboard_messages_in_total",
    help: "Inbound messages by platform",
    labelNames: ["platform"],
    registers: [registry],
    collect() {
      pendingIn.flush(this, "platform");
    },
  });
  new Counter({
    name: "switchboard_messages_out_total",
    help: "Outbound messages by platform",
    labelNames: ["platform"],
    registers: [registry],
    collect() {
      pendingOut.flush(this, "platform");
    },
  });
  const latency = new LatencyHistogram(LATENCY_BUCKETS_SECONDS);
  registry.registerMetric(latency as unknown as Metric);
  const errors = new Counter({
    name: "switchboard_errors_total",
    help: "Errors by code",
    labelNames: ["code"],
    registers: [registry],
  });
  return {
    registry,
    messageIn: (platform) => pendingIn.add(platform),
    messageOut: (platform) => pendingOut.add(platform),
    handlerLatency: (platform, kind, seconds) => latency.observe(platform, kind, seconds),
    error: (code) => errors.labels(code).inc(),
  };
}
