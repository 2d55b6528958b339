/**
 * The admin API's routes for one's own gateway keys (`Plugin.routes`, beside `/v1`): list, create (shown once, in
 * the answer) and revoke. Creating and revoking need a browser session (the console, with its CSRF token): an API
 * token, even a scoped one, cannot mint model keys. Every creation and revocation is audited with `via: web`.
 */
import { z } from "zod";
import { ApiError, type ApiRoute, defineRoute, type Principal } from "../bot/index.ts";
import type { KeyInfo, KeyService } from "./keys.ts";

const errorSchema = z.object({ error: z.string(), message: z.string() });
const keySchema = z.object({
  id: z.string(),
  shown: z.string(),
  name: z.string().nullable(),
  models: z.array(z.string()).nullable(),
  createdAt: z.number(),
  expiresAt: z.number().nullable(),
  revokedAt: z.number().nullable(),
  lastUsedAt: z.number().nullable(),
});

const listed = (k: KeyInfo): z.output<typeof keySchema> => ({
  id: k.id,
  shown: k.shown,
  name: k.name,
  models: k.models,
  createdAt: k.createdAt,
  expiresAt: k.expiresAt,
  revokedAt: k.revokedAt,
  lastUsedAt: k.lastUsedAt,
});

function fromSession(p: Principal | undefined): Principal {
  if (p === undefined) throw new ApiError(401, "E_UNAUTHENTICATED", "sign in first");
  if (p.via !== "web")
    throw new ApiError(
      403,
      "E_PERMISSION_DENIED",
      "model keys are created and revoked from a console session, not a token",
    );
  return p;
}

/** The routes. */
export function keyRoutes(keys: KeyService, o: { maxExpiryDays: number; now: () => number }): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      url: "/api/gateway/keys",
      summary: "Your model gateway keys (never their secrets)",
      tags: ["gateway"],
      access: { scope: "read" },
      schema: { response: { 200: z.object({ keys: z.array(keySchema) }), 401: errorSchema } },
      handler: async ({ principal }) => ({
        status: 200,
        body: { keys: (await keys.list(principal!.userKey)).map(listed) },
      }),
    }),
    defineRoute({
      method: "POST",
      url: "/api/gateway/keys",
      summary: "Create a model gateway key for yourself; the key is in this answer only",
      tags: ["gateway"],
      access: { scope: "read" },
      schema: {
        body: z.object({
          name: z.string().max(64).optional(),
          models: z.array(z.string().min(1)).max(50).optional(),
          expiresInDays: z.number().int().positive().max(o.maxExpiryDays).optional(),
        }),
        response: {
          201: z.object({ key: z.string(), info: keySchema }),
          401: errorSchema,
          403: errorSchema,
          409: errorSchema,
        },
      },
      handler: async ({ principal, body }) => {
        const p = fromSession(principal);
        const created = await keys.create(
          {
            userKey: p.userKey,
            name: body.name,
            models: body.models,
            expiresAt: body.expiresInDays === undefined ? undefined : o.now() + body.expiresInDays * 86_400_000,
          },
          { actor: p.userKey, via: "web" },
        );
        return { status: 201, body: { key: created.key, info: listed(created.info) } };
      },
    }),
    defineRoute({
      method: "DELETE",
      url: "/api/gateway/keys/:id",
      summary: "Revoke one of your model gateway keys",
      tags: ["gateway"],
      access: { scope: "read" },
      schema: {
        params: z.object({ id: z.string().regex(/^[0-9a-f]{12}$/) }),
        response: { 204: z.null(), 401: errorSchema, 403: errorSchema, 404: errorSchema },
      },
      handler: async ({ principal, params }) => {
        const p = fromSession(principal);
        if (!(await keys.revoke(params.id, { actor: p.userKey, via: "web", onlyOf: p.userKey })))
          throw new ApiError(404, "E_NOT_FOUND", `you have no active key ${params.id}`);
        return { status: 204, body: null };
      },
    }),
  ];
}
