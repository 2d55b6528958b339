/** The remind skill: a chat's shared reminder list in storage. */
import { defineSkill, type SkillContext } from "../../../sdk/index.ts";

/** One reminder. */
interface Reminder {
  text: string;
  by: string;
  at: string;
}

const KEY = "list";
const MAX = 50;

async function load(ctx: SkillContext): Promise<Reminder[]> {
  const list = await ctx.storage.get<Reminder[]>(KEY);
  return Array.isArray(list) ? list : [];
}

function show(list: Reminder[]): string {
  if (list.length === 0) return "Nothing to remember. Add one: /remind water the plants";
  return `**Reminders**\n${list.map((r, i) => `- ${i + 1}. ${r.text} (${r.by})`).join("\n")}`;
}

export default defineSkill({
  commands: {
    remind: async (ctx) => {
      const [first, second] = ctx.args;
      const verb = (first ?? "list").toLowerCase();
      const list = await load(ctx);
      if (ctx.args.length === 0 || (verb === "list" && ctx.args.length === 1)) return show(list);
      if (verb === "clear" && ctx.args.length === 1) {
        await ctx.storage.delete(KEY);
        return `Cleared ${list.length} reminder${list.length === 1 ? "" : "s"}.`;
      }
      if (verb === "done" && ctx.args.length === 2) {
        const n = Number(second);
        if (!Number.isInteger(n) || n < 1 || n > list.length)
          return `Say which one: /remind done 1 to ${Math.max(1, list.length)}.`;
        const [removed] = list.splice(n - 1, 1);
        await ctx.storage.set(KEY, list);
        return `Done: ${removed!.text}`;
      }
      if (list.length >= MAX) return `The list is full (${MAX}). Mark some done first.`;
      const text = ctx.rawArgs.trim().slice(0, 300);
      list.push({ text, by: ctx.user.name, at: new Date().toISOString() });
      await ctx.storage.set(KEY, list);
      return `Noted (#${list.length}): ${text}`;
    },
  },
  tools: {
    list_reminders: async (_args, ctx) => (await load(ctx)).map((r) => r.text),
  },
});
