/** The poll skill: one open poll per chat, kept in the skill's storage. */
import { defineSkill, type SkillContext, type SkillReply } from "../../../sdk/index.ts";

/** The stored poll. */
interface Poll {
  question: string;
  options: string[];
  /** User id → option index. */
  votes: Record<string, number>;
  by: string;
}

const KEY = "open";

function render(poll: Poll, closed = false): SkillReply {
  const counts = poll.options.map(() => 0);
  for (const choice of Object.values(poll.votes)) if (choice >= 0 && choice < counts.length) counts[choice]! += 1;
  const total = counts.reduce((a, b) => a + b, 0);
  const lines = poll.options.map(
    (o, i) => `- ${i + 1}. ${o}: ${counts[i]}${total > 0 ? ` (${Math.round((counts[i]! / total) * 100)}%)` : ""}`,
  );
  const text = `${closed ? "**Poll closed:** " : "**Poll:** "}${poll.question}\n${lines.join("\n")}\n${total} vote${total === 1 ? "" : "s"}`;
  return closed
    ? { text }
    : { text, buttons: [poll.options.slice(0, 5).map((o, i) => ({ label: o.slice(0, 30), data: `/vote ${i + 1}` }))] };
}

async function current(ctx: SkillContext): Promise<Poll | undefined> {
  return ctx.storage.get<Poll>(KEY);
}

export default defineSkill({
  commands: {
    poll: async (ctx) => {
      if (ctx.args.length === 0) {
        const open = await current(ctx);
        return open === undefined ? 'No poll is open. Start one: /poll "Lunch?" pizza sushi' : render(open);
      }
      if (ctx.args.length === 1 && ctx.args[0]!.toLowerCase() === "close") {
        const open = await current(ctx);
        if (open === undefined) return "No poll is open.";
        await ctx.storage.delete(KEY);
        return render(open, true);
      }
      const [question, ...options] = ctx.args;
      if (options.length < 2 || options.length > 10)
        return 'A poll needs a question and 2 to 10 options: /poll "Lunch?" pizza sushi';
      const poll: Poll = {
        question: question!.slice(0, 200),
        options: options.map((o) => o.slice(0, 80)),
        votes: {},
        by: ctx.user.id,
      };
      await ctx.storage.set(KEY, poll);
      return render(poll);
    },
    vote: async (ctx) => {
      const open = await current(ctx);
      if (open === undefined) return "No poll is open.";
      const choice = Number(ctx.args[0]);
      if (!Number.isInteger(choice) || choice < 1 || choice > open.options.length)
        return `Vote with a number from 1 to ${open.options.length}.`;
      open.votes[ctx.user.id] = choice - 1;
      await ctx.storage.set(KEY, open);
      return render(open);
    },
  },
});
