/**
 * The gateway's HTTP routes, declared once (`defineRoute`): `POST /v1/chat/completions` and `GET /v1/models`.
 * They are `public` to the listener's sign-in (a personal key is checked here instead) and answer errors in
 * OpenAI's shape, validation errors included (`errorBody`).
 */
import { z } from "zod";
import { type ApiRoute, defineRoute } from "../bot/index.ts";
import { authenticate, type CompletionDeps, completions } from "./completions.ts";
import { dayOf } from "../llm/index.ts";
import { GatewayError, openAiErrorBody } from "./errors.ts";
import { hitsByModel } from "./hits.ts";
import { completionRequestSchema } from "./wire.ts";

const errorSchema = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }),
});

/** Every error status the gateway answers, in OpenAI's shape. */
const errorAnswers = Object.fromEntries([400, 401, 403, 404, 429, 500, 502, 503].map((s) => [s, errorSchema]));

const modelList = z.object({
  object: z.literal("list"),
  data: z.array(
    z.object({
      id: z.string(),
      object: z.literal("model"),
      created: z.number(),
      owned_by: z.string(),
      /** Switchboard: the models an alias tries, in order. */
      chain: z.array(z.string()),
      /** Switchboard: answers served from the cache today (UTC) for this model, at no cost. */
      cache_hits_today: z.number(),
    }),
  ),
});

/** The routes, for the composition root to mount. */
export function gatewayRoutes(d: CompletionDeps): ApiRoute[] {
  return [
    defineRoute({
      method: "POST",
      url: "/v1/chat/completions",
      summary: "OpenAI-compatible chat completion (JSON, or server-sent events with stream: true)",
      tags: ["gateway"],
      access: "public",
      errorBody: openAiErrorBody,
      schema: {
        body: completionRequestSchema,
        // OpenAI's completion object, or its chunks as server-sent events (documented with the OpenAI SDK).
        response: { 200: z.unknown(), ...errorAnswers },
      },
      handler: (req) => completions(d, req),
    }),
    defineRoute({
      method: "GET",
      url: "/v1/models",
      summary: "The models and aliases this key may use",
      tags: ["gateway"],
      access: "public",
      errorBody: openAiErrorBody,
      schema: { response: { 200: modelList, ...errorAnswers } },
      handler: async (req) => {
        try {
          const key = await authenticate(d.keys, req.headers);
          const hits = await hitsByModel(d.sql, dayOf(d.clock.now()));
          return {
            status: 200,
            body: {
              object: "list",
              data: d.router.namesFor(key.models).map((n) => ({
                id: n.id,
                object: "model",
                created: 0,
                owned_by: n.kind === "alias" ? "switchboard" : (d.llm.registry.get(n.id)?.provider ?? "switchboard"),
                chain: n.chain,
                cache_hits_today: n.kind === "model" ? (hits.get(n.id) ?? 0) : 0,
              })),
            },
          };
        } catch (error) {
          if (error instanceof GatewayError) return error.answer();
          throw error;
        }
      },
    }),
  ];
}
