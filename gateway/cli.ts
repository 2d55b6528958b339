/**
 * `switchboard keys create --user <platform:id> [--name] [--models a,b] [--expires 30d]`, `keys list [--user]`
 * and `keys revoke <id>`, on the host: the bot's store, no adapters. `create` prints the key once, on stdout
 * (the rest of what it says goes to stderr), so it can be piped into a secret store.
 */
import type { Command } from "commander";
import type { Core } from "../bot/index.ts";
import { csvOf, SwitchboardError } from "../bot/index.ts";
import { LLM_MIGRATIONS, type UsageGrouping, usageReport } from "../llm/index.ts";
import { hitsBy, hitsByModel } from "./hits.ts";
import { GATEWAY_MIGRATIONS, type KeyInfo } from "./keys.ts";
import { createKeyService } from "./index.ts";

/** What the CLI hands this module (the composition root's CLI context provides it). */
export interface GatewayCliContext {
  openApp(options?: { plugins?: boolean }): Promise<{ core: Core; stop(): Promise<void> }>;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Cache hits per model since a UTC day, for `switchboard models` (the composition root hands it to the LLM CLI). */
export async function cacheHitsSince(core: Core, fromDay: string): Promise<Map<string, number>> {
  await core.store.migrate(GATEWAY_MIGRATIONS);
  return hitsByModel(core.store.sql, fromDay);
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30d`, `12h`, `90m` in ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+)([mhd])$/.exec(text.trim());
  if (m === null)
    throw new SwitchboardError(
      "E_BAD_ARGS",
      `--expires takes a duration like 30d, 12h or 90m, got ${JSON.stringify(text)}`,
    );
  return Number(m[1]) * UNITS[m[2]!]!;
}

async function withKeys<T>(
  ctx: GatewayCliContext,
  fn: (keys: ReturnType<typeof createKeyService>, core: Core) => Promise<T>,
): Promise<T> {
  const app = await ctx.openApp({ plugins: false });
  try {
    await app.core.store.migrate(GATEWAY_MIGRATIONS);
    return await fn(createKeyService(app.core), app.core);
  } finally {
    await app.stop();
  }
}

function line(k: KeyInfo, now: number): string {
  const state = k.revokedAt !== null ? "revoked" : k.expiresAt !== null && k.expiresAt <= now ? "expired" : "active";
  return [
    k.id,
    k.shown,
    k.userKey,
    state,
    k.name ?? "-",
    k.models === null ? "all models" : k.models.join(","),
    k.expiresAt === null ? "no expiry" : `expires ${new Date(k.expiresAt).toISOString()}`,
  ].join("\t");
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const GROUPINGS: readonly UsageGrouping[] = ["day", "model", "chat", "user", "key"];

/** Add `switchboard usage export --from --to --by day|model|chat|user|key --format csv|json`. */
function registerUsageCli(program: Command, ctx: GatewayCliContext): void {
  program
    .command("usage")
    .description("language-model usage of chats and gateway keys")
    .command("export")
    .description("usage between two UTC days, grouped, as CSV or JSON on stdout")
    .requiredOption("--from <YYYY-MM-DD>", "first day (UTC)")
    .requiredOption("--to <YYYY-MM-DD>", "last day (UTC), included")
    .option("--by <grouping>", "day, model, chat, user or key", "day")
    .option("--format <format>", "csv or json", "csv")
    .action(async (opts: { from: string; to: string; by: string; format: string }) => {
      if (!DAY.test(opts.from) || !DAY.test(opts.to) || opts.from > opts.to)
        throw new SwitchboardError(
          "E_BAD_ARGS",
          `--from and --to are days, YYYY-MM-DD, from before to; got ${opts.from} and ${opts.to}`,
        );
      if (!GROUPINGS.includes(opts.by as UsageGrouping))
        throw new SwitchboardError(
          "E_BAD_ARGS",
          `--by is one of ${GROUPINGS.join(", ")}; got ${JSON.stringify(opts.by)}`,
        );
      if (opts.format !== "csv" && opts.format !== "json")
        throw new SwitchboardError("E_BAD_ARGS", `--format is csv or json; got ${JSON.stringify(opts.format)}`);
      const app = await ctx.openApp({ plugins: false });
      try {
        await app.core.store.migrate(LLM_MIGRATIONS);
        await app.core.store.migrate(GATEWAY_MIGRATIONS);
        const range = { from: opts.from, to: opts.to, by: opts.by as UsageGrouping };
        const hits = await hitsBy(app.core.store.sql, range);
        const rows = (await usageReport(app.core.store.sql, range)).map((r) => ({
          ...r,
          cacheHits: hits.get(r.group) ?? 0,
        }));
        const named = rows.map(({ group, ...rest }) => ({ [opts.by]: group, ...rest }));
        ctx.out.write(
          opts.format === "json"
            ? `${JSON.stringify(named, null, 2)}\n`
            : csvOf(
                [opts.by, "inputTokens", "outputTokens", "cost", "count", "cacheHits"],
                rows.map((r) => [r.group, r.inputTokens, r.outputTokens, r.cost, r.count, r.cacheHits]),
              ),
        );
      } finally {
        await app.stop();
      }
    });
}

/** Add `switchboard keys …` and `switchboard usage export`. */
export function registerGatewayCli(program: Command, ctx: GatewayCliContext): void {
  registerUsageCli(program, ctx);
  const keys = program.command("keys").description("personal keys for the model gateway (/v1)");
  keys
    .command("create")
    .description("create a key for a person; prints it once")
    .requiredOption("--user <platform:id>", "the person it belongs to, e.g. telegram:123456")
    .option("--name <name>", "a name to recognise it by")
    .option("--models <names>", "comma-separated models or aliases it may use (default: all)")
    .option("--expires <duration>", "lifetime, e.g. 30d, 12h")
    .option("--cache <mode>", "answer cache: default, on or off", "default")
    .action(async (opts: { user: string; name?: string; models?: string; expires?: string; cache: string }) => {
      if (!["default", "on", "off"].includes(opts.cache))
        throw new SwitchboardError("E_BAD_ARGS", `--cache is default, on or off, got ${JSON.stringify(opts.cache)}`);
      const expiresInMs = opts.expires === undefined ? undefined : parseDuration(opts.expires);
      const created = await withKeys(ctx, (k, core) =>
        k.create(
          {
            userKey: opts.user,
            name: opts.name,
            models: opts.models
              ?.split(",")
              .map((s) => s.trim())
              .filter((s) => s !== ""),
            expiresAt: expiresInMs === undefined ? undefined : core.clock.now() + expiresInMs,
            cache: opts.cache as "default" | "on" | "off",
          },
          { actor: "system", via: "cli" },
        ),
      );
      ctx.out.write(`${created.key}\n`);
      ctx.err.write(`created key ${created.info.id} for ${created.info.userKey}; it is shown this once\n`);
    });
  keys
    .command("list")
    .description("list keys (never their secrets)")
    .option("--user <platform:id>", "only this person's")
    .action(async (opts: { user?: string }) => {
      const rows = await withKeys(ctx, async (k, core) => ({ list: await k.list(opts.user), now: core.clock.now() }));
      for (const k of rows.list) ctx.out.write(`${line(k, rows.now)}\n`);
      if (rows.list.length === 0) ctx.err.write("no keys\n");
    });
  keys
    .command("revoke <id>")
    .description("revoke a key by its id")
    .action(async (id: string) => {
      const done = await withKeys(ctx, (k) => k.revoke(id, { actor: "system", via: "cli" }));
      if (!done) throw new SwitchboardError("E_NOT_FOUND", `no active key ${id}`);
      ctx.out.write(`revoked ${id}\n`);
    });
}
