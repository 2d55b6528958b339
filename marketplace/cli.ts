/**
 * The operator's CLI: `switchboard skills search|info|install|update|rollback|uninstall|list|verify`, and the author
 * kit under `switchboard skill`. Reads need only the config; changes open the bot's store (no adapters) to write
 * audit entries. A running bot watches the lockfile and picks CLI changes up by itself.
 */
import { userInfo } from "node:os";
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import type { Core } from "../bot/index.ts";
import { isSwitchboardError, SwitchboardError } from "../bot/index.ts";
import { installedSkillsDir } from "../skills/index.ts";
import { appendToOutbox } from "./audit-outbox.ts";
import { Marketplace } from "./service.ts";
import { registerAuthorCli } from "./author/cli.ts";
import { marketplaceFor } from "./factory.ts";
import type { InstallPlan } from "./installer.ts";
import { formatPermissions } from "./permission-diff.ts";
import type { ProgressEvent } from "./types.ts";

/** What the CLI hands its modules (bot/app/cli/context.ts), as the marketplace uses it. */
export interface MarketplaceCliContext {
  config(): Core["config"];
  openApp(options?: { plugins?: boolean }): Promise<{ core: Core; stop(): Promise<void> }>;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Answers a yes/no question (tests); default: ask on the terminal when stdin is one. */
  confirm?: (question: string) => Promise<boolean>;
}

/** Register the marketplace's subcommands on the `skills` and `skill` command groups. */
export function registerMarketplaceCli(skills: Command, skill: Command, ctx: MarketplaceCliContext): void {
  const actor = (): string => `cli:${safeUser()}`;
  /** The config, with `--registry` (when given) as the default registry. */
  const configWith = (config: Core["config"], registry: string | undefined): Core["config"] => {
    if (registry === undefined) return config;
    if (!/^https?:\/\/[^/]+/.test(registry))
      throw new SwitchboardError("E_BAD_ARGS", `--registry must be an http(s) URL, got ${JSON.stringify(registry)}`);
    return { ...config, marketplace: { ...config.marketplace, registry } };
  };
  const offline = (registry?: string): Marketplace => {
    const config = configWith(ctx.config(), registry);
    return marketplaceFor({
      config,
      audit: async () => undefined,
      log: silentLog(),
      clock: { now: () => Date.now() },
      store: undefined as never,
    });
  };
  /**
   * Run `fn` with a marketplace that audits into the bot's store. When a running bot holds the embedded store,
   * the audit entries go to the outbox it drains instead (stored data cannot be purged then).
   */
  const withStore = async <T>(
    registry: string | undefined,
    fn: (m: Marketplace) => Promise<T>,
    options: { needsStore?: boolean } = {},
  ): Promise<T> => {
    const config = configWith(ctx.config(), registry);
    let app: Awaited<ReturnType<MarketplaceCliContext["openApp"]>>;
    try {
      app = await ctx.openApp({ plugins: false });
    } catch (error) {
      if (
        !isSwitchboardError(error) ||
        error.code !== "E_STORAGE" ||
        !/in use by process|already held by this process/.test(error.message) ||
        options.needsStore === true
      )
        throw error;
      ctx.err.write(
        "  the bot is running on this data folder: changes are handed to it (it loads them and records the audit entries)\n",
      );
      const m = marketplaceFor(
        {
          config,
          audit: async () => undefined,
          log: silentLog(),
          clock: { now: () => Date.now() },
          store: undefined as never,
        },
        undefined,
        {
          audit: (entry) =>
            appendToOutbox(Marketplace.dirs(config.bot.dataDir, installedSkillsDir({ config })).skillsDir, {
              ...entry,
              at: Date.now(),
            }),
        },
      );
      return fn(m);
    }
    try {
      const { core } = app;
      return await fn(
        marketplaceFor({
          config,
          audit: (entry) => core.audit(entry),
          log: core.log,
          clock: core.clock,
          store: core.store,
        }),
      );
    } finally {
      await app.stop();
    }
  };
  const REGISTRY_HELP = "registry URL for this command (overrides marketplace.registry)";
  const print = (text: string): void => void ctx.out.write(`${text}\n`);

  skills
    .command("search")
    .description("search the registry for skills (keyword switchboard-skill)")
    .argument("[words...]", "words to search for")
    .option("--size <n>", "most results", "20")
    .option("--registry <url>", REGISTRY_HELP)
    .action(async (words: string[], opts: { size: string; registry?: string }) => {
      const hits = await offline(opts.registry).search(words.join(" "), { size: Number(opts.size) });
      if (hits.length === 0) return print("No skills found.");
      for (const h of hits) print(`${h.name}@${h.version}  ${h.description}`);
    });

  skills
    .command("info")
    .description("show a skill package: versions, permissions, publish times")
    .argument("<package>")
    .option("--registry <url>", REGISTRY_HELP)
    .action(async (name: string, opts: { registry?: string }) => {
      const m = offline(opts.registry);
      const info = await m.info(name);
      const installed = await m.find(name);
      print(`${info.name}  ${info.description}`);
      print(`registry: ${info.registry}${info.hasKeyword ? "" : "  (no switchboard-skill keyword: not installable)"}`);
      print(
        `dist-tags: ${Object.entries(info.distTags)
          .map(([t, v]) => `${t}=${v}`)
          .join(" ")}`,
      );
      print(
        `versions: ${info.versions.map((v) => `${v.version}${v.publishedAt === undefined ? "" : ` (${v.publishedAt})`}`).join(", ")}`,
      );
      print(`permissions (latest):\n${formatPermissions(info.latestPermissions, "  ")}`);
      print(installed === undefined ? "not installed" : `installed: ${installed.version} (range ${installed.range})`);
    });

  skills
    .command("install")
    .description("install a skill: download, verify, show permissions, pin in the lockfile")
    .argument("<spec>", "package[@range]")
    .option("-y, --yes", "approve the permissions without asking")
    .option("--allow-downgrade", "allow installing an older version than the installed one")
    .option("--registry <url>", REGISTRY_HELP)
    .action(async (spec: string, opts: { yes?: boolean; allowDowngrade?: boolean; registry?: string }) => {
      await withStore(opts.registry, async (m) => {
        const result = await m.install(spec, {
          actor: actor(),
          allowDowngrade: opts.allowDowngrade === true,
          confirm: (plan) => confirmPlan(ctx, plan, opts.yes === true),
          onProgress: progress(ctx.err),
        });
        if (result.status === "unchanged") print(`${result.plan.name}@${result.plan.version} is already installed`);
        else if (result.status === "cancelled")
          throw new SwitchboardError("E_MARKETPLACE", "install cancelled; nothing was changed");
        else
          print(
            `installed ${result.entry!.name}@${result.entry!.version} (skill "${result.entry!.skill}"); enable it in a chat with /skills enable ${result.entry!.skill}`,
          );
      });
    });

  skills
    .command("update")
    .description("update installed skills within their ranges (new permissions need approval)")
    .argument("[skill]", "one skill (default: all)")
    .option("-y, --yes", "approve new permissions without asking")
    .option("--registry <url>", REGISTRY_HELP)
    .action(async (name: string | undefined, opts: { yes?: boolean; registry?: string }) => {
      await withStore(opts.registry, async (m) => {
        const names = name === undefined ? (await m.installer.list()).map((e) => e.name) : [name];
        if (names.length === 0) return print("No skills installed.");
        for (const n of names) {
          const result = await m.update(n, {
            actor: actor(),
            confirm: (plan) => confirmPlan(ctx, plan, opts.yes === true),
            onProgress: progress(ctx.err),
          });
          const pkg = result.plan.name;
          if (result.status === "unchanged") {
            const entry = await m.find(pkg);
            const newer = entry === undefined ? undefined : await m.newerOutsideRange(entry).catch(() => undefined);
            print(
              newer === undefined || entry === undefined
                ? `${pkg} is up to date (${result.plan.version})`
                : `${pkg} is up to date within ${entry.range} (${result.plan.version}); ${newer} is published outside that range: switchboard skills install ${pkg}@^${newer} moves to it`,
            );
          } else if (result.status === "cancelled")
            print(`${pkg}: update to ${result.plan.version} cancelled; ${result.plan.fromVersion} stays`);
          else
            print(
              `updated ${pkg} ${result.plan.fromVersion} → ${result.plan.version}${result.plan.diff.added.length > 0 ? " (chats must approve the new permissions again)" : ""}`,
            );
        }
      });
    });

  skills
    .command("rollback")
    .description("return a skill to its previous pinned version")
    .argument("<skill>")
    .action(async (name: string) => {
      await withStore(undefined, async (m) => {
        const r = await m.rollback(name, actor());
        print(`rolled ${r.to.name} back from ${r.from} to ${r.to.version}`);
      });
    });

  skills
    .command("uninstall")
    .description("remove a skill's files (and, with --purge-data, its stored data)")
    .argument("<skill>")
    .option("--purge-data", "also delete the skill's stored data in every chat")
    .option("-y, --yes", "do not ask before deleting data")
    .action(async (name: string, opts: { purgeData?: boolean; yes?: boolean }) => {
      await withStore(
        undefined,
        async (m) => {
          let purge = opts.purgeData === true;
          if (purge && opts.yes !== true) purge = await ask(ctx, `Delete all stored data of ${name}? [y/N] `);
          const r = await m.uninstall(name, actor(), { purgeData: purge });
          print(
            `uninstalled ${r.entry.name}@${r.entry.version}${r.purged === undefined ? " (stored data kept; --purge-data deletes it)" : `; deleted ${r.purged} stored entries`}`,
          );
        },
        { needsStore: opts.purgeData === true },
      );
    });

  skills
    .command("list")
    .description("list installed skills from the lockfile")
    .action(async () => {
      const entries = await offline().installer.list();
      if (entries.length === 0) return print("No skills installed.");
      for (const e of entries) {
        print(
          `${e.name}@${e.version}  skill=${e.skill} range=${e.range} permissions=[${e.approvedPermissions.join(", ")}]${e.previous === undefined ? "" : ` previous=${e.previous.version}`}`,
        );
      }
    });

  skills
    .command("verify")
    .description("check installed skills' files against the lockfile")
    .argument("[skill]")
    .action(async (name: string | undefined) => {
      const results = await offline().verify(name);
      let bad = 0;
      for (const r of results) {
        if (r.problems.length === 0) print(`ok       ${r.name}@${r.version}`);
        else {
          bad++;
          print(`TAMPERED ${r.name}@${r.version}: ${r.problems.join("; ")}`);
        }
      }
      if (results.length === 0) print("No skills installed.");
      if (bad > 0) process.exitCode = 1;
    });

  registerAuthorCli(skill, ctx);
}

/** Show the plan and get an answer: `--yes`, the injected confirm, or a terminal prompt. */
async function confirmPlan(ctx: MarketplaceCliContext, plan: InstallPlan, yes: boolean): Promise<boolean> {
  const lines = [
    plan.fromVersion === undefined
      ? `${plan.name}@${plan.version}`
      : `${plan.name} ${plan.fromVersion} → ${plan.version} (${plan.kind})`,
  ];
  if (plan.changelog !== undefined) lines.push(`  changelog: ${plan.changelog}`);
  if (plan.fromVersion === undefined) lines.push("  asks for:", formatPermissions(plan.permissions, "    "));
  else if (plan.diff.added.length > 0) lines.push("  NEW permissions:", formatPermissions(plan.diff.added, "    "));
  else lines.push("  no new permissions");
  if (plan.diff.removed.length > 0) lines.push(`  no longer asks for: ${plan.diff.removed.join(", ")}`);
  lines.push(`  registry signature: ${plan.signatureVerified ? "verified" : "not available"}`);
  ctx.err.write(`${lines.join("\n")}\n`);
  if (yes) return true;
  if (plan.fromVersion !== undefined && plan.diff.added.length === 0) return true;
  return ask(ctx, "Approve these permissions? [y/N] ");
}

async function ask(ctx: MarketplaceCliContext, question: string): Promise<boolean> {
  if (ctx.confirm !== undefined) return ctx.confirm(question);
  if (!process.stdin.isTTY) {
    throw new SwitchboardError("E_BAD_ARGS", "confirmation needed: run in a terminal or pass --yes");
  }
  const rl = createInterface({ input: process.stdin, output: ctx.err });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** A progress line on stderr: redrawn in place on a terminal, one line per step otherwise. */
export function progress(err: NodeJS.WritableStream): (event: ProgressEvent) => void {
  const tty = (err as { isTTY?: boolean }).isTTY === true;
  return (event) => {
    if (event.kind === "download") {
      if (!tty) return;
      const kb = (event.receivedBytes / 1024).toFixed(1);
      const total = event.totalBytes === undefined ? "" : ` / ${(event.totalBytes / 1024).toFixed(1)} kB`;
      err.write(`\r\x1b[2K  downloading ${event.name}@${event.version} ${kb} kB${total}`);
      return;
    }
    if (tty)
      err.write(
        `\r\x1b[2K  ${event.step === "done" ? "done" : `${event.step}…`} ${event.name}@${event.version}${event.step === "done" ? "\n" : ""}`,
      );
    else err.write(`  ${event.step} ${event.name}@${event.version}\n`);
  };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "operator";
  }
}

function silentLog() {
  const noop = (): void => undefined;
  return { info: noop, warn: noop, error: noop, child: () => silentLog() } as unknown as Core["log"];
}
