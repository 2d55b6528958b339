/** `/confirm [id]` (the requester goes on with a command that asked) and `/approve [id]` (someone else agrees). */
import type { CommandDef } from "../commands.ts";
import type { Confirmations } from "../router/confirmations.ts";

/** Both commands, served on the priority lane ahead of other people's work, behind the sender's own. */
export function confirmationCommands(confirmations: Confirmations): CommandDef[] {
  const id = { name: "id", description: "the request's id (default: the newest here)", type: "string" } as const;
  return [
    {
      name: "confirm",
      description: "Confirm a command you asked for that waits for your confirmation",
      args: [id],
      defaultRole: "guest",
      urgent: "after-own",
      source: "builtin",
      handler: (ctx) => confirmations.confirm(ctx, ctx.options.id === undefined ? undefined : String(ctx.options.id)),
    },
    {
      name: "approve",
      description: "Approve someone else's command that waits for approvals",
      args: [id],
      defaultRole: "member",
      urgent: "after-own",
      source: "builtin",
      handler: (ctx) => confirmations.approve(ctx, ctx.options.id === undefined ? undefined : String(ctx.options.id)),
    },
  ];
}
