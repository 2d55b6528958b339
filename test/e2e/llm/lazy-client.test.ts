/**
 * A bot with no model configured never loads the model clients: undici (about 0.15 s of CPU at start) for the
 * OpenAI-compatible provider and the `ollama` SDK, each imported with its provider's first request.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../..");

describe("LLM providers load their HTTP client on first use", () => {
  it("a console bot with every default plugin and no model starts and stops without loading undici or ollama", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "sb-lazy-undici-"));
    try {
      const script = `
        import { registerHooks } from "node:module";
        const seen = new Set();
        registerHooks({ resolve(specifier, context, next) {
          if (/^(undici|ollama)(\\/|$)/.test(specifier)) seen.add(specifier);
          return next(specifier, context);
        } });
        const { createApp } = await import(${JSON.stringify(resolve(ROOT, "bot/app/app.ts"))});
        const { parseConfig } = await import(${JSON.stringify(resolve(ROOT, "config/index.ts"))});
        const { memoryStore } = await import(${JSON.stringify(resolve(ROOT, "bot/storage/open.ts"))});
        const { PassThrough } = await import("node:stream");
        const config = parseConfig({ log: { level: "silent" }, bot: { dataDir: ${JSON.stringify(dataDir)} } });
        const app = await createApp({ config, platformAdapters: false, store: await memoryStore(),
          console: { input: new PassThrough(), output: new PassThrough(), interactive: false } });
        await app.start();
        console.log(JSON.stringify({ loaded: [...seen] }));
        await app.stop();
        process.exit(0);
      `;
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 90_000,
      });
      expect(run.status, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout.trim().split("\n").at(-1)!)).toEqual({ loaded: [] });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
