/**
 * Prometheus metrics of the gateway, on the bot's registry. Labels are outcomes and configured model names
 * only: never a key, a key id or a person (unbounded, and a key is a secret).
 */
import { Counter, type Registry } from "prom-client";

/** What the gateway reports. */
export interface GatewayMetrics {
  /** One request answered: `ok`, `cache_hit`, or the error status. */
  request(outcome: string): void;
  /** One answer served from the cache, by the model that first gave it. */
  cacheHit(model: string): void;
  /** One budget alert: the budget's scope (chat, user, key) and the threshold crossed (80, 100). */
  budgetAlert(scope: string, threshold: string): void;
}

/** Register the gateway's metrics on `registry`. */
export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  const requests = new Counter({
    name: "switchboard_gateway_requests_total",
    help: "Gateway requests by outcome (ok, cache_hit, or the error status)",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const hits = new Counter({
    name: "switchboard_gateway_cache_hits_total",
    help: "Answers served from the gateway's cache, by model (at zero cost)",
    labelNames: ["model"],
    registers: [registry],
  });
  const alerts = new Counter({
    name: "switchboard_gateway_budget_alerts_total",
    help: "Budget alerts by the budget's scope and the threshold crossed (80, 100)",
    labelNames: ["scope", "threshold"],
    registers: [registry],
  });
  return {
    budgetAlert: (scope, threshold) => alerts.inc({ scope, threshold }),
    request: (outcome) => requests.inc({ outcome }),
    cacheHit: (model) => hits.inc({ model }),
  };
}
