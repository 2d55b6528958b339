/** `/link [code]` and `/unlink [identity]`: one person across platforms (see `router/principals.ts`). */
import type { CommandDef } from "../commands.ts";
import { parseUserRef } from "../router/permission-service.ts";
import { LINK_CODE_TTL_MS, type Principals } from "../router/principals.ts";

/** Both commands. Anyone may link their own identities; nothing here raises a chat role. */
export function linkCommands(principals: Principals): CommandDef[] {
  return [
    {
      name: "link",
      description: "Link your identities on two platforms: /link here, then /link <code> there",
      usage: "/link | /link <code>",
      args: [{ name: "code", description: "the code /link gave you on the other platform", type: "string" }],
      defaultRole: "guest",
      source: "builtin",
      handler: async (ctx) => {
        const code = ctx.options.code;
        if (code === undefined) {
          const issued = await principals.issueCode(ctx.userKey);
          return {
            text: `Your link code is ${issued}. Within ${LINK_CODE_TTL_MS / 60_000} minutes, send \`/link ${issued}\` to me on the other platform.`,
            format: "markdown",
          };
        }
        const identities = await principals.redeem(ctx.userKey, String(code));
        return `Linked: ${identities.join(", ")} are one person now. /unlink undoes it.`;
      },
    },
    {
      name: "unlink",
      description: "Take an identity (default: this one) out of your linked identities",
      args: [{ name: "identity", description: "platform:id of one of your identities", type: "user" }],
      defaultRole: "guest",
      source: "builtin",
      handler: async (ctx) => {
        const identity =
          ctx.options.identity === undefined
            ? ctx.userKey
            : parseUserRef(String(ctx.options.identity), ctx.inbound.platform);
        const left = await principals.unlink(ctx.userKey, identity);
        return left.length <= 1
          ? `${identity} is no longer linked.`
          : `${identity} is no longer linked; still linked: ${left.join(", ")}.`;
      },
    },
  ];
}
