/**
 * Prometheus metrics of the hooks, on the bot's registry, plus the figures `/status` shows. Labels are the
 * template and the outcome only: never a hook id or a chat (unbounded).
 */
import { Counter, Gauge, type Registry } from "prom-client";

/** What the hooks report. */
export interface HooksMetrics {
  /** One request answered: `queued`, `duplicate`, or why it was refused (`unauthorized`, `too_large`, …). */
  request(template: string, outcome: string): void;
  /** One delivery handed to the platform (`sent`), retried (`retry`) or given up (`failed`). */
  delivery(template: string, outcome: "sent" | "retry" | "failed"): void;
  /** Epoch ms of the last delivery sent, and of the last failure (0: none yet). */
  readonly last: { sentAt: number; failedAt: number; failures: number; sent: number };
}

/** Register the hooks' metrics on `registry`. */
export function createHooksMetrics(registry: Registry): HooksMetrics {
  const requests = new Counter({
    name: "switchboard_hook_requests_total",
    help: "Inbound hook requests by template and outcome (queued, duplicate, unauthorized, too_large, rate_limited, …)",
    labelNames: ["template", "outcome"],
    registers: [registry],
  });
  const deliveries = new Counter({
    name: "switchboard_hook_deliveries_total",
    help: "Hook deliveries by template and outcome (sent, retry, failed)",
    labelNames: ["template", "outcome"],
    registers: [registry],
  });
  const last = { sentAt: 0, failedAt: 0, failures: 0, sent: 0 };
  new Gauge({
    name: "switchboard_hook_last_delivery_seconds",
    help: "Unix time of the last hook delivery handed to a platform (0: none since start)",
    registers: [registry],
    collect() {
      this.set(last.sentAt / 1000);
    },
  });
  return {
    request: (template, outcome) => requests.inc({ template, outcome }),
    delivery(template, outcome) {
      deliveries.inc({ template, outcome });
      if (outcome === "sent") {
        last.sentAt = Date.now();
        last.sent++;
      } else if (outcome === "failed") {
        last.failedAt = Date.now();
        last.failures++;
      }
    },
    last,
  };
}
