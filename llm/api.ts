/**
 * LLM usage and model statistics over the admin API. Usage per chat and user comes from the daily aggregates
 * (`llm_usage`, one row per day, chat and user), bot-wide usage per day from the day totals (`llm_usage_days`),
 * never from a scan of turns; usage per model from the call
 * records (`llm_calls`, kept `llm.statsRetentionDays`). A person sees the usage of the chats where `/ai` would
 * show it to them (every chat for a bot owner), and model figures where `/models` would let them.
 */
import { z } from "zod";
import {
  ApiError,
  csvOf,
  defineRoute,
  type ApiAnswer,
  type ApiRoute,
  type Core,
  type Principal,
} from "../bot/index.ts";
import type { LlmService } from "./service.ts";
import { dayOf } from "./usage.ts";
import { exportJsonl } from "./export.ts";

const DAY_MS = 86_400_000;
const errorSchema = z.object({ error: z.string(), message: z.string() });
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a day is YYYY-MM-DD");

const usageQuery = z.object({
  from: day.optional(),
  to: day.optional(),
  groupBy: z.enum(["day", "chat", "user", "model", "day-model"]).default("day"),
  chatKey: z.string().min(1).max(512).optional(),
});

const usageRow = z.object({
  day: z.string().optional(),
  chatKey: z.string().optional(),
  userKey: z.string().optional(),
  model: z.string().optional(),
  inputTokens: z.number(),
  outputTokens: z.number(),
  cost: z.number(),
  /** Conversation turns (chat usage) or model calls (model usage). */
  count: z.number(),
});

type UsageRow = z.output<typeof usageRow>;
type Row = Record<string, unknown>;
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** The routes, for the plugin to mount. */
export function llmRoutes(core: Pick<Core, "apiAccess" | "store" | "clock">, service: LlmService): ApiRoute[] {
  const access = core.apiAccess;
  const signedIn = (p: Principal | undefined): Principal => {
    if (p === undefined) throw new ApiError(401, "E_UNAUTHENTICATED", "sign in first");
    return p;
  };
  /** The chats whose usage this person may see: one asked for, theirs, or undefined for all (owners). */
  const chatScope = async (p: Principal, chatKey: string | undefined): Promise<string[] | undefined> => {
    if (chatKey !== undefined) {
      await access.require(p, chatKey, "ai");
      return [chatKey];
    }
    return access.isOwner(p.userKey) ? undefined : access.chatsWhere(p, "ai");
  };
  const requireModels = async (p: Principal): Promise<void> => {
    if (access.isOwner(p.userKey)) return;
    if ((await access.chatsWhere(p, "models")).length === 0)
      throw new ApiError(403, "E_PERMISSION_DENIED", "model figures are for those who may run /models");
  };

  const usage = async (p: Principal, q: z.output<typeof usageQuery>): Promise<UsageRow[]> => {
    const to = q.to ?? dayOf(core.clock.now());
    const from = q.from ?? dayOf(Date.parse(`${to}T00:00:00Z`) - 29 * DAY_MS);
    if (q.groupBy === "model" || q.groupBy === "day-model") {
      if (q.chatKey !== undefined) throw new ApiError(400, "E_BAD_ARGS", "model usage is bot-wide: leave chatKey out");
      await requireModels(p);
      return modelUsage({ sql: core.store.sql, from, to, byDay: q.groupBy === "day-model" });
    }
    const chats = await chatScope(p, q.chatKey);
    if (chats !== undefined && chats.length === 0) return [];
    if (q.groupBy === "day" && chats === undefined) {
      // Bot-wide by day: the day totals (one row a day), not the per-chat-and-person rows.
      const { rows } = await core.store.sql.query<Row>(
        `SELECT day, input_tokens, output_tokens, cost, turns FROM llm_usage_days
         WHERE day >= $1 AND day <= $2 ORDER BY day`,
        [from, to],
      );
      return rows.map((r) => ({
        day: String(r.day),
        inputTokens: num(r.input_tokens),
        outputTokens: num(r.output_tokens),
        cost: num(r.cost),
        count: num(r.turns),
      }));
    }
    const column = { day: "day", chat: "chat_key", user: "user_key" }[q.groupBy];
    const params: unknown[] = [from, to];
    const inList =
      chats === undefined
        ? ""
        : ` AND chat_key IN (${chats.map((c) => {
            params.push(c);
            return `$${params.length}`;
          })})`;
    const { rows } = await core.store.sql.query<Row>(
      `SELECT ${column} AS k, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
              sum(cost) AS cost, sum(turns) AS turns
       FROM llm_usage WHERE day >= $1 AND day <= $2${inList}
       GROUP BY ${column} ORDER BY ${q.groupBy === "day" ? "k" : "cost DESC, k"}`,
      params,
    );
    const key = { day: "day", chat: "chatKey", user: "userKey" }[q.groupBy];
    return rows.map((r) => ({
      [key]: String(r.k),
      inputTokens: num(r.input_tokens),
      outputTokens: num(r.output_tokens),
      cost: num(r.cost),
      count: num(r.turns),
    }));
  };

  return [
    defineRoute({
      method: "GET",
      url: "/api/usage",
      summary: "LLM tokens and cost by day, chat, user or model (default: the last 30 days by day)",
      tags: ["usage"],
      access: { scope: "read" },
      schema: {
        querystring: usageQuery,
        response: { 200: z.object({ rows: z.array(usageRow) }), 400: errorSchema, 403: errorSchema },
      },
      handler: async ({ principal, query }) => ({
        status: 200,
        body: { rows: await usage(signedIn(principal), query) },
      }),
    }),
    defineRoute({
      method: "GET",
      url: "/api/usage/export",
      summary: "The same usage as CSV or JSON",
      tags: ["usage"],
      access: { scope: "read" },
      raw: true,
      schema: {
        querystring: usageQuery.extend({ format: z.enum(["csv", "json"]).default("csv") }),
        response: { 200: z.string(), 400: errorSchema, 403: errorSchema },
      },
      handler: async ({ principal, query }): Promise<ApiAnswer> => {
        const rows = await usage(signedIn(principal), query);
        if (query.format === "json")
          return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(rows) };
        const columns = ["day", "chatKey", "userKey", "model", "inputTokens", "outputTokens", "cost", "count"] as const;
        const used = columns.filter(
          (c) => rows.some((r) => r[c] !== undefined) || !["day", "chatKey", "userKey", "model"].includes(c),
        );
        const csv = csvOf(
          used,
          rows.map((r) => used.map((c) => r[c])),
        );
        return {
          status: 200,
          headers: {
            "content-type": "text/csv; charset=utf-8",
            "content-disposition": 'attachment; filename="usage.csv"',
          },
          body: csv,
        };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/chats/:chatKey/conversations/export",
      summary: "A chat's LLM conversations in the chat-format JSONL of /ai export (bot owners only)",
      tags: ["usage"],
      access: { scope: "read" },
      raw: true,
      schema: {
        params: z.object({ chatKey: z.string().min(1).max(512) }),
        response: { 200: z.string(), 403: errorSchema },
      },
      handler: async ({ principal, params }) => {
        access.requireOwner(signedIn(principal));
        const out = exportJsonl(await service.store.chatTurns(params.chatKey), service.config.conversationGapMs);
        const file = `llm-${params.chatKey.replace(/[^A-Za-z0-9_-]+/g, "_")}.jsonl`;
        return {
          status: 200,
          headers: { "content-type": "application/x-ndjson", "content-disposition": `attachment; filename="${file}"` },
          body: out.text,
        };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/api/models",
      summary: "Each configured model: calls, failures by kind, latency p50/p95, tokens, cost, feedback, cooldown",
      tags: ["usage"],
      access: { scope: "read" },
      schema: {
        response: {
          200: z.object({
            retentionDays: z.number(),
            models: z.array(
              z.object({
                name: z.string(),
                provider: z.string(),
                model: z.string(),
                calls: z.number(),
                failures: z.record(z.string(), z.number()),
                p50Ms: z.number().nullable(),
                p95Ms: z.number().nullable(),
                inputTokens: z.number(),
                outputTokens: z.number(),
                cost: z.number(),
                thumbsUp: z.number(),
                thumbsDown: z.number(),
                cooldown: z.object({ kind: z.string(), untilMs: z.number() }).nullable(),
              }),
            ),
          }),
          403: errorSchema,
        },
      },
      handler: async ({ principal }) => {
        await requireModels(signedIn(principal));
        const since = core.clock.now() - service.config.statsRetentionDays * DAY_MS;
        const stats = new Map((await service.stats.read(since)).map((s) => [s.model, s]));
        const models = [];
        for (const m of service.registry.list()) {
          const s = stats.get(m.name);
          const cool = await service.chain.cooldown(m.name);
          models.push({
            name: m.name,
            provider: m.provider,
            model: m.model,
            calls: s?.calls ?? 0,
            failures: s?.failures ?? {},
            p50Ms: s?.p50Ms ?? null,
            p95Ms: s?.p95Ms ?? null,
            inputTokens: s?.inputTokens ?? 0,
            outputTokens: s?.outputTokens ?? 0,
            cost: s?.cost ?? 0,
            thumbsUp: s?.thumbsUp ?? 0,
            thumbsDown: s?.thumbsDown ?? 0,
            cooldown: cool === undefined ? null : { kind: String(cool.kind), untilMs: cool.untilMs },
          });
        }
        return { status: 200, body: { retentionDays: service.config.statsRetentionDays, models } };
      },
    }),
  ];
}

/** Usage per model (and per day) from the call records, days in UTC like `llm_usage`. */
async function modelUsage(o: {
  sql: Core["store"]["sql"];
  from: string;
  to: string;
  byDay: boolean;
}): Promise<UsageRow[]> {
  const fromMs = Date.parse(`${o.from}T00:00:00Z`);
  const toMs = Date.parse(`${o.to}T00:00:00Z`) + DAY_MS;
  const dayExpr =
    o.sql.driver === "sqlite"
      ? "strftime('%Y-%m-%d', at / 1000, 'unixepoch')"
      : "to_char(to_timestamp(at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')";
  const groups = o.byDay ? `${dayExpr}, model` : "model";
  const { rows } = await o.sql.query<Row>(
    `SELECT ${o.byDay ? `${dayExpr} AS day, ` : ""}model, count(*) AS calls, sum(input_tokens) AS input_tokens,
            sum(output_tokens) AS output_tokens, sum(cost) AS cost
     FROM llm_calls WHERE at >= $1 AND at < $2 GROUP BY ${groups} ORDER BY ${o.byDay ? "day, model" : "cost DESC, model"}`,
    [fromMs, toMs],
  );
  return rows.map((r) => ({
    ...(o.byDay ? { day: String(r.day) } : {}),
    model: String(r.model),
    inputTokens: num(r.input_tokens),
    outputTokens: num(r.output_tokens),
    cost: num(r.cost),
    count: num(r.calls),
  }));
}
