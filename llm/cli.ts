/** `switchboard models` and `switchboard ai export`: the LLM module's CLI, loaded for those commands only. */
import type { Command } from "commander";
import { type Core, SwitchboardError } from "../bot/index.ts";
import { exportChatToFile, modelsReport } from "./commands.ts";
import { createLlmServiceParts, type LlmService } from "./service.ts";
import { LLM_MIGRATIONS } from "./store.ts";

/** What the CLI hands this module (the composition root's CLI context provides it). */
export interface LlmCliContext {
  openApp(options?: { plugins?: boolean }): Promise<{ core: Core; stop(): Promise<void> }>;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /**
   * Answers served from the answer cache per model since a UTC day, read from the store by the module that keeps
   * the cache (the gateway); `switchboard models` shows them as the chat's `/models` does.
   */
  cacheHitsSince?: (core: Core, fromDay: string) => Promise<Map<string, number>>;
}

/** Open the LLM services for a CLI command (store, no adapters), run `fn`, and close. */
async function withCliService<T>(
  ctx: LlmCliContext,
  fn: (s: Omit<LlmService, "engine">, core: Core) => Promise<T>,
): Promise<T> {
  const app = await ctx.openApp({ plugins: false });
  try {
    await app.core.store.migrate(LLM_MIGRATIONS);
    const s = createLlmServiceParts({
      config: app.core.config.llm,
      dataDir: app.core.config.bot.dataDir,
      clock: app.core.clock,
      sql: app.core.store.sql,
      kvRepo: app.core.store.kv,
      kv: app.core.kv,
    });
    try {
      return await fn(s, app.core);
    } finally {
      await s.stats.close();
    }
  } finally {
    await app.stop();
  }
}

/** Add `switchboard models` and `switchboard ai export --chat <id> [--out file]`. */
export function registerLlmCli(program: Command, ctx: LlmCliContext): void {
  program
    .command("models")
    .description("list the configured language models with their statistics")
    .action(async () => {
      const text = await withCliService(ctx, (s, core) => {
        const hits = ctx.cacheHitsSince;
        return modelsReport(
          { ...s, engine: undefined },
          hits === undefined ? {} : { hitsSince: (fromDay) => hits(core, fromDay) },
        );
      });
      ctx.out.write(`${text.replace(/\*\*/g, "")}\n`);
    });
  const ai = program.command("ai").description("language-model conversations");
  ai.command("export")
    .description('write a chat\'s conversations as chat-format JSONL (one {"messages": [...]} per conversation)')
    .requiredOption("--chat <chatKey>", "the chat, as platform:chatId (e.g. telegram:-1001234, console:local)")
    .option("--out <file>", "output file (default: <dataDir>/exports/llm-<chat>-<time>.jsonl)")
    .action(async (opts: { chat: string; out?: string }) => {
      if (!/^[a-z0-9_-]+:.+$/.test(opts.chat)) {
        throw new SwitchboardError(
          "E_BAD_ARGS",
          `--chat must be platform:chatId (e.g. telegram:-1001234), got ${JSON.stringify(opts.chat)}`,
        );
      }
      const result = await withCliService(ctx, (s) =>
        exportChatToFile({ ...s, engine: undefined }, opts.chat, opts.out),
      );
      ctx.out.write(`${result.path}\n`);
      ctx.err.write(`exported ${result.conversations} conversation(s), ${result.turns} turn(s)\n`);
    });
}
