/**
 * `/console`: a single-use sign-in link to the web console, for a bot owner or a chat admin, asked for in a
 * direct message (a link posted in a group could be used by anyone who reads it). The link is bound to the
 * speaker's platform identity and valid 10 minutes. A module of its own so the command system can change
 * around it.
 */
import type { CommandDef } from "../commands.ts";
import { SwitchboardError } from "../errors.ts";
import type { ApiAccess } from "../core.ts";
import type { Identity } from "../admin/credentials.ts";

/** What `/console` needs: who may sign in, and a link maker (undefined while the listener is off). */
export interface ConsoleCommandDeps {
  access: ApiAccess;
  signInLink: ((identity: Identity) => Promise<{ url: string; expiresAt: number }>) | undefined;
}

/** The `/console` command. */
export function consoleCommand(deps: ConsoleCommandDeps): CommandDef {
  return {
    name: "console",
    description: "Get a single-use sign-in link to the web console (in a DM; owners and chat admins)",
    usage: "/console",
    defaultRole: "member",
    source: "builtin",
    handler: async (ctx) => {
      if (ctx.inbound.chat.kind !== "dm")
        throw new SwitchboardError("E_PERMISSION_DENIED", "console link asked for outside a DM", {
          chatMessage: "Ask me for /console in a direct message: a sign-in link is for you alone.",
        });
      if (deps.signInLink === undefined)
        throw new SwitchboardError("E_CONFIG_INVALID", "console link without a listener", {
          chatMessage: "The web console is off: this bot opens no HTTP listener (set http.enabled: true).",
        });
      const person = { userKey: ctx.userKey, platform: ctx.inbound.platform, userId: ctx.inbound.user.id };
      const isAllowed =
        deps.access.isOwner(ctx.userKey) ||
        (
          await deps.access.chatsWhere(
            { ...person, displayName: "", via: "web", scopes: [], credentialId: "" },
            "perms",
          )
        ).length > 0;
      if (!isAllowed)
        throw new SwitchboardError("E_PERMISSION_DENIED", "console link for a non-admin", {
          chatMessage: "The web console is for bot owners and chat admins.",
        });
      const link = await deps.signInLink({ userKey: ctx.userKey, displayName: ctx.inbound.user.displayName });
      return {
        text: `Your sign-in link, valid 10 minutes and once: ${link.url}\nIt signs in as ${ctx.userKey}; don't share it.`,
        format: "plain",
        ephemeral: true,
      };
    },
  };
}
