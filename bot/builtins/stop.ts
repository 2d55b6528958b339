/** `/stop`: cancel the LLM turn or command running in this conversation. Served on the priority lane. */
import type { CommandDef } from "../commands.ts";
import type { RouterApi } from "../core.ts";

/** `/stop` stops what runs in this conversation (its thread, where the platform has threads). */
export function stopCommand(router: Pick<RouterApi, "stop">): CommandDef {
  return {
    name: "stop",
    description: "Stop the answer or command running in this conversation",
    defaultRole: "member",
    urgent: true,
    source: "builtin",
    handler: (ctx) => {
      const key = ctx.inbound.threadId === undefined ? ctx.chatKey : `${ctx.chatKey}:${ctx.inbound.threadId}`;
      const stopped = router.stop(key);
      if (stopped === undefined) return "Nothing is running here.";
      return stopped === "conversation" ? "Stopped the answer." : "Stopped the running command.";
    },
  };
}
