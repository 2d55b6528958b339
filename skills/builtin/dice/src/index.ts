/** The dice skill: `/dice 2d6`, `/dice d20+3`, and a `roll` tool for the LLM. */
import { defineSkill } from "../../../sdk/index.ts";

/** A parsed roll. */
interface Roll {
  count: number;
  sides: number;
  modifier: number;
}

const NOTATION = /^(\d{0,3})d(\d{1,4})([+-]\d{1,5})?$/i;

function parse(text: string): Roll | string {
  const spec = text.trim() === "" ? "1d6" : text.trim().replace(/\s+/g, "");
  const m = NOTATION.exec(spec);
  if (m === null) return `I can't read "${spec.slice(0, 40)}". Try 2d6, d20 or 3d8+2.`;
  const count = m[1] === "" ? 1 : Number(m[1]);
  const sides = Number(m[2]);
  if (count < 1 || count > 100) return "Roll between 1 and 100 dice.";
  if (sides < 2 || sides > 1000) return "Dice need between 2 and 1000 sides.";
  return { count, sides, modifier: m[3] === undefined ? 0 : Number(m[3]) };
}

function roll(r: Roll): { dice: number[]; total: number } {
  const dice: number[] = [];
  for (let i = 0; i < r.count; i++) dice.push(1 + Math.floor(Math.random() * r.sides));
  return { dice, total: dice.reduce((a, b) => a + b, 0) + r.modifier };
}

function label(r: Roll): string {
  return `${r.count}d${r.sides}${r.modifier === 0 ? "" : r.modifier > 0 ? `+${r.modifier}` : r.modifier}`;
}

export default defineSkill({
  commands: {
    dice: (ctx) => {
      const r = parse(ctx.rawArgs);
      if (typeof r === "string") return r;
      const { dice, total } = roll(r);
      const shown = dice.length <= 20 ? dice.join(" + ") : `${dice.slice(0, 20).join(" + ")} + …`;
      const mod = r.modifier === 0 ? "" : r.modifier > 0 ? ` + ${r.modifier}` : ` - ${-r.modifier}`;
      return `🎲 ${label(r)}: ${shown}${mod} = **${total}**`;
    },
  },
  tools: {
    roll: (args: { dice?: string }) => {
      const r = parse(typeof args.dice === "string" ? args.dice : "");
      if (typeof r === "string") return { error: r };
      return { roll: label(r), ...roll(r) };
    },
  },
});
