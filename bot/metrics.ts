/** Prometheus metrics (prom-client) on a registry of our own: messages in/out, handler latency, errors. */
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Metrics } from "./core.ts";

/** Create the metrics of one bot process. Label children are cached so the hot path does no lookups. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "switchboard_" });
  const inbound = new Counter({ name: "switchboard_messages_in_total", help: "Inbound messages by platform", labelNames: ["platform"], registers: [registry] });
  const outbound = new Counter({ name: "switchboard_messages_out_total", help: "Outbound messages by platform", labelNames: ["platform"], registers: [registry] });
  const latency = new Histogram({
    name: "switchboard_handler_seconds",
    help: "Time from accepting a message to finishing its handler",
    labelNames: ["platform", "kind"],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });
  const errors = new Counter({ name: "switchboard_errors_total", help: "Errors by code", labelNames: ["code"], registers: [registry] });
  const inChildren = new Map<string, Counter.Internal>();
  const outChildren = new Map<string, Counter.Internal>();
  const latencyChildren = new Map<string, Histogram.Internal<"platform" | "kind">>();
  const child = <T>(cache: Map<string, T>, key: string, make: () => T): T => {
    let c = cache.get(key);
    if (c === undefined) {
      c = make();
      cache.set(key, c);
    }
    return c;
  };
  return {
    registry,
    messageIn: (platform) => child(inChildren, platform, () => inbound.labels(platform)).inc(),
    messageOut: (platform) => child(outChildren, platform, () => outbound.labels(platform)).inc(),
    handlerLatency: (platform, kind, seconds) =>
      child(latencyChildren, `${platform}\u0000${kind}`, () => latency.labels(platform, kind)).observe(seconds),
    error: (code) => errors.labels(code).inc(),
  };
}
