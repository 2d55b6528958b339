/**
 * `/healthz` (the process answers), `/readyz` (adapters up, their platform APIs reachable, configured stores
 * answering) and `/metrics` (Prometheus), declared like every other route.
 */
import { z } from "zod";
import type { Core } from "../core.ts";
import { probeStores } from "../readiness.ts";
import { defineRoute, type ApiRoute } from "./routes.ts";

/** One adapter's health, as `/readyz` and the admin API show it. */
export const adapterHealthSchema = z.object({
  platform: z.string(),
  state: z.enum(["starting", "up", "reconnecting", "down"]),
  lastInboundAt: z.number().nullable(),
  lastApiOkAt: z.number().nullable(),
  detail: z.string().optional(),
  reconnects: z.number().int().min(0).optional().describe("connections lost and taken up again since start"),
  apiError: z.string().optional(),
});

const readySchema = z.object({
  ready: z.boolean(),
  reasons: z.array(z.string()),
  adapters: z.array(adapterHealthSchema),
  stores: z.array(z.object({ name: z.string(), ok: z.boolean(), error: z.string().optional() })),
});

/** The health routes of a bot. */
export function healthRoutes(core: Pick<Core, "adapters" | "config" | "kv" | "store" | "metrics">): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      url: "/healthz",
      summary: "The process answers",
      tags: ["health"],
      access: "public",
      raw: true,
      schema: { response: { 200: z.string() } },
      handler: async () => ({ status: 200, headers: { "content-type": "text/plain" }, body: "ok" }),
    }),
    defineRoute({
      method: "GET",
      url: "/readyz",
      summary: "Ready to serve: 503 with the reasons while an adapter, its platform API or a store is not",
      tags: ["health"],
      access: "public",
      schema: { response: { 200: readySchema, 503: readySchema } },
      handler: async () => {
        const adapters = core.adapters.list().map((a) => a.health());
        const reasons: string[] = [];
        for (const h of adapters) {
          if (h.state !== "up")
            reasons.push(`${h.platform} is ${h.state}${h.detail === undefined ? "" : ` (${h.detail})`}`);
          else if (h.apiError !== undefined) reasons.push(`${h.platform} cannot reach its API (${h.apiError})`);
        }
        const stores = await probeStores(core);
        for (const s of stores) if (!s.ok) reasons.push(`${s.name} is down (${s.error})`);
        const ready = reasons.length === 0;
        return { status: ready ? 200 : 503, body: { ready, reasons, adapters, stores } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/metrics",
      summary: "Prometheus metrics",
      tags: ["health"],
      access: "public",
      raw: true,
      schema: { response: { 200: z.string() } },
      handler: async () => ({
        status: 200,
        headers: { "content-type": core.metrics.registry.contentType },
        body: await core.metrics.registry.metrics(),
      }),
    }),
  ];
}
