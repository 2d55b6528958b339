/** `switchboard doctor`: what is configured, which tokens are present (masked), whether storage answers. */
import { access, constants, mkdir } from "node:fs/promises";
import { ConfigError, type Config } from "../../../config/index.ts";
import { createEphemeral } from "../../ephemeral.ts";
import { maskSecret } from "../../logger.ts";
import { withTimeout } from "../../readiness.ts";
import { maskUrl, openStore } from "../../storage/open.ts";
import type { CliContext } from "./context.ts";
import { llmProbes, platformProbes } from "./probes.ts";

type Line = { ok: boolean | "info"; text: string };

/** Print the report; resolves false when something configured does not work. */
export async function runDoctor(ctx: CliContext): Promise<boolean> {
  const lines: Line[] = [];
  let config: Config;
  try {
    config = ctx.config();
    lines.push({ ok: true, text: "configuration is valid" });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    ctx.out.write(`✗ ${error.message}\n`);
    return false;
  }
  lines.push(...platformLines(config));
  // Live: what each platform and LLM endpoint answers to our credentials.
  const [platforms, llms] = await Promise.all([platformProbes(config), llmProbes(config)]);
  lines.push(...platforms, ...llms);
  lines.push(await dataDirLine(config.bot.dataDir));
  lines.push(await databaseLine(config));
  lines.push(await redisLine(config));
  lines.push({
    ok: "info",
    text:
      config.http.enabled === false
        ? "HTTP listener disabled"
        : `HTTP listener on ${config.http.host}:${config.http.port} (/healthz, /readyz, /metrics)${config.http.enabled === "auto" ? ", opened when a platform adapter is configured" : ""}`,
  });
  lines.push({
    ok: "info",
    text: `bot owners: ${config.bot.owners.length === 0 ? "(none besides the console operator) — add bot.owners or SWITCHBOARD_OWNERS=telegram:123,…" : config.bot.owners.join(", ")}`,
  });
  for (const line of lines) ctx.out.write(`${line.ok === "info" ? "•" : line.ok ? "✓" : "✗"} ${line.text}\n`);
  return lines.every((l) => l.ok !== false);
}

function platformLines(config: Config): Line[] {
  const { telegram, discord, slack } = config.adapters;
  const out: Line[] = [
    {
      ok: "info",
      text: `console adapter: ${config.adapters.console.enabled ? `on (operator console:${config.adapters.console.userId} is a bot owner)` : "off"}`,
    },
  ];
  if (telegram.token === undefined) out.push({ ok: "info", text: "telegram: off — set TELEGRAM_BOT_TOKEN to enable" });
  else if (telegram.mode === "webhook" && telegram.webhookSecret === undefined) {
    out.push({
      ok: false,
      text: `telegram: token ${maskSecret(telegram.token)}, webhook mode needs TELEGRAM_WEBHOOK_SECRET (adapters.telegram.webhookSecret)`,
    });
  } else
    out.push({
      ok: true,
      text: `telegram: token ${maskSecret(telegram.token)}, ${telegram.mode} via ${telegram.apiRoot}`,
    });
  if (discord.token === undefined)
    out.push({ ok: "info", text: "discord: off — set DISCORD_TOKEN (and DISCORD_APPLICATION_ID) to enable" });
  else if (
    discord.mode === "interactions" &&
    (discord.publicKey === undefined || discord.applicationId === undefined)
  ) {
    out.push({
      ok: false,
      text: `discord: token ${maskSecret(discord.token)}, interactions mode needs DISCORD_PUBLIC_KEY and DISCORD_APPLICATION_ID`,
    });
  } else
    out.push({
      ok: true,
      text: `discord: token ${maskSecret(discord.token)}, ${discord.mode} mode via ${discord.apiRoot}`,
    });
  if (slack.token === undefined)
    out.push({
      ok: "info",
      text: "slack: off — set SLACK_BOT_TOKEN plus SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN (Socket Mode) to enable",
    });
  else if (slack.appToken === undefined && slack.signingSecret === undefined) {
    out.push({
      ok: false,
      text: `slack: token ${maskSecret(slack.token)}, needs SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)`,
    });
  } else
    out.push({
      ok: true,
      text: `slack: token ${maskSecret(slack.token)}, ${slack.appToken !== undefined ? "Socket Mode" : "HTTP mode"}`,
    });
  return out;
}

async function dataDirLine(dataDir: string): Promise<Line> {
  try {
    await mkdir(dataDir, { recursive: true });
    await access(dataDir, constants.W_OK);
    return { ok: true, text: `data folder ${dataDir} is writable` };
  } catch (error) {
    return { ok: false, text: `data folder ${dataDir} is not writable: ${(error as Error).message}` };
  }
}

async function databaseLine(config: Config): Promise<Line> {
  if (config.storage.databaseUrl === undefined) {
    return {
      ok: "info",
      text: `storage: embedded database in ${config.bot.dataDir}/db (set DATABASE_URL for PostgreSQL)`,
    };
  }
  try {
    const store = await openStore({ dataDir: config.bot.dataDir, databaseUrl: config.storage.databaseUrl });
    await store.close();
    return {
      ok: true,
      text: `storage: PostgreSQL at ${maskUrl(config.storage.databaseUrl)} answers (migrations applied)`,
    };
  } catch (error) {
    return { ok: false, text: `storage: ${(error as Error).message}` };
  }
}

async function redisLine(config: Config): Promise<Line> {
  if (config.storage.redisUrl === undefined)
    return { ok: "info", text: "shared state: in-memory (set REDIS_URL to share it across processes)" };
  const kv = createEphemeral({ redisUrl: config.storage.redisUrl, namespace: "switchboard-doctor" });
  try {
    const probe = `probe-${process.pid}`;
    await withTimeout(kv.set(probe, 1, 5_000), 3_000);
    const back = await withTimeout(kv.get(probe), 3_000);
    await kv.delete(probe);
    return back === 1
      ? { ok: true, text: `shared state: Redis at ${maskUrl(config.storage.redisUrl)} answers` }
      : {
          ok: false,
          text: `shared state: Redis at ${maskUrl(config.storage.redisUrl)} did not return what was written`,
        };
  } catch (error) {
    return {
      ok: false,
      text: `shared state: Redis at ${maskUrl(config.storage.redisUrl)}: ${(error as Error).message}`,
    };
  } finally {
    await kv.disconnect().catch(() => undefined);
  }
}
