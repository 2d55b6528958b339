/**
 * Sign-in, sessions and API tokens over HTTP. The console page posts the code from its link's fragment to
 * `/api/auth/sign-in` (the code never reaches a server log or a Referer), gets the session cookie and its CSRF
 * token, and sends that token in `x-csrf-token` on every change.
 */
import { z } from "zod";
import { API_SCOPES, ApiError, defineRoute, type ApiRoute, type Principal } from "../http/routes.ts";
import type { ApiAccess } from "../core.ts";
import type { ConsoleCredentials, CredentialInfo } from "./credentials.ts";

import { SESSION_COOKIE } from "./session-cookie.ts";

const scopeSchema = z.enum(API_SCOPES as [string, ...string[]]);
const errorSchema = z.object({ error: z.string(), message: z.string() });
const principalSchema = z.object({
  userKey: z.string(),
  displayName: z.string(),
  via: z.enum(["web", "api"]),
  scopes: z.array(scopeSchema),
  isOwner: z.boolean(),
});
const credentialSchema = z.object({
  id: z.string(),
  kind: z.enum(["session", "token"]),
  userKey: z.string(),
  displayName: z.string(),
  name: z.string().nullable(),
  scopes: z.array(scopeSchema),
  createdAt: z.number(),
  expiresAt: z.number().nullable(),
  lastUsedAt: z.number().nullable(),
  revokedAt: z.number().nullable(),
  current: z.boolean(),
});

const self = (p: Principal | undefined): Principal => {
  if (p === undefined) throw new ApiError(401, "E_UNAUTHENTICATED", "sign in first");
  return p;
};

/** The sign-in, session and token routes. */
export function authRoutes(o: {
  credentials: ConsoleCredentials;
  access: ApiAccess;
  sessionTtlMs: number;
  /** Sign-in attempts per client address per minute. */
  signInAttemptsPerMinute: number;
  audit: (entry: { actor: string; action: string; target: string; via: string; after?: unknown }) => Promise<void>;
}): ApiRoute[] {
  const describe = (p: Principal) => ({
    userKey: p.userKey,
    displayName: p.displayName,
    via: p.via,
    scopes: [...p.scopes],
    isOwner: o.access.isOwner(p.userKey),
  });
  const shown = (c: CredentialInfo, p: Principal) => ({ ...c, current: c.id === p.credentialId });
  return [
    defineRoute({
      method: "POST",
      url: "/api/auth/sign-in",
      summary: "Redeem a single-use sign-in code; sets the session cookie and answers its CSRF token",
      tags: ["auth"],
      access: "public",
      rateLimit: { max: o.signInAttemptsPerMinute, windowMs: 60_000 },
      schema: {
        body: z.object({ code: z.string().min(1).max(200) }),
        response: {
          200: z.object({ principal: principalSchema, csrfToken: z.string(), expiresAt: z.number() }),
          401: errorSchema,
        },
      },
      handler: async ({ body }) => {
        const session = await o.credentials.redeemSignIn(body.code);
        if (session === undefined)
          throw new ApiError(401, "E_SIGN_IN", "that sign-in link is unknown, used or expired; ask for a new one");
        await o.audit({
          actor: session.principal.userKey,
          action: "console.sign-in",
          target: session.principal.credentialId,
          via: "web",
        });
        return {
          status: 200,
          body: { principal: describe(session.principal), csrfToken: session.csrfToken, expiresAt: session.expiresAt },
          cookies: [
            {
              name: SESSION_COOKIE,
              value: session.cookie,
              maxAgeSeconds: Math.floor(o.sessionTtlMs / 1000),
              httpOnly: true,
            },
          ],
        };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/auth/me",
      summary: "Who is signed in, and the session's CSRF token",
      tags: ["auth"],
      access: { scope: "read" },
      schema: { response: { 200: z.object({ principal: principalSchema, csrfToken: z.string().optional() }) } },
      handler: async ({ principal, csrfToken }) => ({
        status: 200,
        body: { principal: describe(self(principal)), ...(csrfToken === undefined ? {} : { csrfToken }) },
      }),
    }),
    defineRoute({
      method: "POST",
      url: "/api/auth/sign-out",
      summary: "End this session",
      tags: ["auth"],
      access: { scope: "read" },
      schema: { response: { 200: z.object({ signedOut: z.boolean() }) } },
      handler: async ({ principal }) => {
        const p = self(principal);
        const signedOut = await o.credentials.revoke(p.credentialId, p.userKey);
        return {
          status: 200,
          body: { signedOut },
          cookies: [{ name: SESSION_COOKIE, value: "", maxAgeSeconds: 0, httpOnly: true }],
        };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/credentials",
      summary: "Sessions and API tokens: your own, or everyone's for a bot owner (?all=true)",
      tags: ["auth"],
      access: { scope: "read" },
      schema: {
        querystring: z.object({ all: z.enum(["true", "false"]).optional() }),
        response: { 200: z.object({ credentials: z.array(credentialSchema) }) },
      },
      handler: async ({ principal, query }) => {
        const p = self(principal);
        if (query.all === "true") o.access.requireOwner(p);
        const list = await o.credentials.list(query.all === "true" ? undefined : p.userKey);
        return { status: 200, body: { credentials: list.map((c) => shown(c, p)) } };
      },
    }),
    defineRoute({
      method: "POST",
      url: "/api/tokens",
      summary: "Create an API token; the token is in this answer only",
      tags: ["auth"],
      access: { scope: "read" },
      schema: {
        body: z.object({
          name: z.string().min(1).max(100),
          scopes: z.array(scopeSchema).min(1),
          expiresInDays: z.number().int().positive().max(3650).optional(),
        }),
        response: { 201: z.object({ token: z.string(), credential: credentialSchema }), 403: errorSchema },
      },
      handler: async ({ principal, body }) => {
        const p = self(principal);
        const scopes = body.scopes as Principal["scopes"][number][];
        // A token cannot hand out more than its holder has.
        const beyond = scopes.filter((s) => !p.scopes.includes(s));
        if (beyond.length > 0) throw new ApiError(403, "E_SCOPE", `you lack ${beyond.join(", ")}`);
        const created = await o.credentials.createToken(p, {
          name: body.name,
          scopes,
          ...(body.expiresInDays === undefined ? {} : { ttlMs: body.expiresInDays * 86_400_000 }),
        });
        await o.audit({
          actor: p.userKey,
          action: "tokens.create",
          target: created.info.id,
          via: p.via,
          after: { name: body.name, scopes },
        });
        return { status: 201, body: { token: created.token, credential: shown(created.info, p) } };
      },
    }),
    defineRoute({
      method: "DELETE",
      url: "/api/credentials/:id",
      summary: "Revoke a session or API token (your own; any for a bot owner)",
      tags: ["auth"],
      access: { scope: "read" },
      schema: {
        params: z.object({ id: z.string().min(1).max(64) }),
        response: { 200: z.object({ revoked: z.literal(true) }), 404: errorSchema },
      },
      handler: async ({ principal, params }) => {
        const p = self(principal);
        const revoked = await o.credentials.revoke(params.id, o.access.isOwner(p.userKey) ? undefined : p.userKey);
        if (!revoked) throw new ApiError(404, "E_NOT_FOUND", "no such live session or token of yours");
        await o.audit({ actor: p.userKey, action: "credentials.revoke", target: params.id, via: p.via });
        return { status: 200, body: { revoked: true as const } };
      },
    }),
  ];
}
