/**
 * `switchboard console link|sessions|revoke` and `switchboard tokens create|list|revoke`: console sign-in and
 * API tokens from the host. Whoever runs these holds the bot's data folder, so they act as any identity they
 * name (`--as platform:userId`); the default is the console's operator, a bot owner.
 */
import type { Command } from "commander";
import { API_SCOPES, type ApiScope } from "../../http/routes.ts";
import { SwitchboardError } from "../../errors.ts";
import type { CredentialInfo } from "../../admin/credentials.ts";
import type { CliContext } from "./context.ts";

const stamp = (ms: number | null): string =>
  ms === null ? "-" : new Date(ms).toISOString().slice(0, 16).replace("T", " ");

function line(c: CredentialInfo): string {
  const state =
    c.revokedAt !== null ? "revoked" : c.expiresAt !== null && c.expiresAt < Date.now() ? "expired" : "live";
  const what = c.kind === "token" ? `token "${c.name}" [${c.scopes.join(",")}]` : "session";
  return `${c.id}  ${state.padEnd(7)}  ${c.userKey}  ${what}  created ${stamp(c.createdAt)}  expires ${stamp(c.expiresAt)}  used ${stamp(c.lastUsedAt)}\n`;
}

/** Register `console` and `tokens`. */
export function registerConsoleCli(program: Command, ctx: CliContext): void {
  const operator = () => `console:${ctx.config().adapters.console.userId}`;
  const withAdmin = async <T>(fn: (app: Awaited<ReturnType<CliContext["openApp"]>>) => Promise<T>): Promise<T> => {
    const app = await ctx.openApp({ plugins: false });
    try {
      return await fn(app);
    } finally {
      await app.stop();
    }
  };

  const consoleCmd = program.command("console").description("sign in to the web console; list and revoke sessions");
  consoleCmd
    .command("link")
    .description("print a single-use sign-in link, valid 10 minutes")
    .option("--as <userKey>", "sign in as this person, platform:userId (default: the console operator)")
    .option("--name <name>", "display name", "operator")
    .action(async (opts: { as?: string; name: string }) => {
      await withAdmin(async (app) => {
        const link = await app.admin.signInLink({ userKey: opts.as ?? operator(), displayName: opts.name });
        ctx.out.write(`${link.url}\n`);
        ctx.err.write(`valid until ${new Date(link.expiresAt).toISOString()}, once\n`);
      });
    });
  consoleCmd
    .command("sessions")
    .description("list sessions and API tokens (everyone's)")
    .action(async () => {
      await withAdmin(async (app) => {
        const list = await app.admin.credentials.list(undefined);
        if (list.length === 0) ctx.out.write("no sessions or tokens\n");
        for (const c of list) ctx.out.write(line(c));
      });
    });
  consoleCmd
    .command("revoke")
    .description("revoke a session or API token by id")
    .argument("<id>")
    .action(async (id: string) => {
      await withAdmin(async (app) => {
        if (!(await app.admin.credentials.revoke(id)))
          throw new SwitchboardError("E_NOT_FOUND", `no live session or token ${id}`);
        await app.core.audit({ actor: operator(), chatKey: "*", action: "credentials.revoke", target: id, via: "cli" });
        ctx.out.write(`revoked ${id}\n`);
      });
    });

  const tokens = program.command("tokens").description("API tokens for automation: create, list, revoke");
  tokens
    .command("create")
    .description(`create a token (shown once; stored hashed). Scopes: ${API_SCOPES.join(", ")}`)
    .requiredOption("--scope <scope...>", `one or more of ${API_SCOPES.join(", ")}`)
    .option("--name <name>", "what it is for", "automation")
    .option("--as <userKey>", "whose rights it carries, platform:userId (default: the console operator)")
    .option("--expires-days <days>", "expire after this many days (default: never)")
    .action(async (opts: { scope: string[]; name: string; as?: string; expiresDays?: string }) => {
      const scopes = opts.scope.flatMap((s) => s.split(",")).map((s) => s.trim());
      const unknown = scopes.filter((s) => !API_SCOPES.includes(s as ApiScope));
      if (unknown.length > 0)
        throw new SwitchboardError(
          "E_BAD_ARGS",
          `unknown scope ${unknown.join(", ")}; scopes are ${API_SCOPES.join(", ")}`,
        );
      const days = opts.expiresDays === undefined ? undefined : Number(opts.expiresDays);
      if (days !== undefined && !(Number.isInteger(days) && days > 0))
        throw new SwitchboardError("E_BAD_ARGS", "--expires-days is a whole number of days");
      await withAdmin(async (app) => {
        const userKey = opts.as ?? operator();
        const created = await app.admin.credentials.createToken(
          { userKey, displayName: userKey },
          {
            name: opts.name,
            scopes: scopes as ApiScope[],
            ...(days === undefined ? {} : { ttlMs: days * 86_400_000 }),
          },
        );
        await app.core.audit({
          actor: operator(),
          chatKey: "*",
          action: "tokens.create",
          target: created.info.id,
          via: "cli",
          after: { name: opts.name, scopes, userKey },
        });
        ctx.out.write(`${created.token}\n`);
        ctx.err.write(`token ${created.info.id} for ${userKey} [${scopes.join(",")}]: shown once, keep it now\n`);
      });
    });
  tokens
    .command("list")
    .description("list API tokens (never their secrets)")
    .action(async () => {
      await withAdmin(async (app) => {
        const list = (await app.admin.credentials.list(undefined)).filter((c) => c.kind === "token");
        if (list.length === 0) ctx.out.write("no tokens\n");
        for (const c of list) ctx.out.write(line(c));
      });
    });
  tokens
    .command("revoke")
    .description("revoke an API token by id")
    .argument("<id>")
    .action(async (id: string) => {
      await withAdmin(async (app) => {
        if (!(await app.admin.credentials.revoke(id))) throw new SwitchboardError("E_NOT_FOUND", `no live token ${id}`);
        await app.core.audit({ actor: operator(), chatKey: "*", action: "credentials.revoke", target: id, via: "cli" });
        ctx.out.write(`revoked ${id}\n`);
      });
    });
}
