"use strict";
var skill = (() => {
  var __defProp = Object.defineProperty;
  var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
  var __getOwnPropNames = Object.getOwnPropertyNames;
  var __hasOwnProp = Object.prototype.hasOwnProperty;
  var __export = (target, all) => {
    for (var name in all)
      __defProp(target, name, { get: all[name], enumerable: true });
  };
  var __copyProps = (to, from, except, desc) => {
    if (from && typeof from === "object" || typeof from === "function") {
      for (let key of __getOwnPropNames(from))
        if (!__hasOwnProp.call(to, key) && key !== except)
          __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
    }
    return to;
  };
  var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);

  // skills/builtin/poll/src/index.ts
  var index_exports = {};
  __export(index_exports, {
    default: () => index_default
  });

  // skills/sdk/index.ts
  function defineSkill(definition) {
    return definition;
  }

  // skills/builtin/poll/src/index.ts
  var KEY = "open";
  function render(poll, closed = false) {
    const counts = poll.options.map(() => 0);
    for (const choice of Object.values(poll.votes)) if (choice >= 0 && choice < counts.length) counts[choice] += 1;
    const total = counts.reduce((a, b) => a + b, 0);
    const lines = poll.options.map(
      (o, i) => `- ${i + 1}. ${o}: ${counts[i]}${total > 0 ? ` (${Math.round(counts[i] / total * 100)}%)` : ""}`
    );
    const text = `${closed ? "**Poll closed:** " : "**Poll:** "}${poll.question}
${lines.join("\n")}
${total} vote${total === 1 ? "" : "s"}`;
    return closed ? { text } : { text, buttons: [poll.options.slice(0, 5).map((o, i) => ({ label: o.slice(0, 30), data: `/vote ${i + 1}` }))] };
  }
  async function current(ctx) {
    return ctx.storage.get(KEY);
  }
  var index_default = defineSkill({
    commands: {
      poll: async (ctx) => {
        if (ctx.args.length === 0) {
          const open = await current(ctx);
          return open === void 0 ? 'No poll is open. Start one: /poll "Lunch?" pizza sushi' : render(open);
        }
        if (ctx.args.length === 1 && ctx.args[0].toLowerCase() === "close") {
          const open = await current(ctx);
          if (open === void 0) return "No poll is open.";
          await ctx.storage.delete(KEY);
          return render(open, true);
        }
        const [question, ...options] = ctx.args;
        if (options.length < 2 || options.length > 10)
          return 'A poll needs a question and 2 to 10 options: /poll "Lunch?" pizza sushi';
        const poll = {
          question: question.slice(0, 200),
          options: options.map((o) => o.slice(0, 80)),
          votes: {},
          by: ctx.user.id
        };
        await ctx.storage.set(KEY, poll);
        return render(poll);
      },
      vote: async (ctx) => {
        const open = await current(ctx);
        if (open === void 0) return "No poll is open.";
        const choice = Number(ctx.args[0]);
        if (!Number.isInteger(choice) || choice < 1 || choice > open.options.length)
          return `Vote with a number from 1 to ${open.options.length}.`;
        open.votes[ctx.user.id] = choice - 1;
        await ctx.storage.set(KEY, open);
        return render(open);
      }
    }
  });
  return __toCommonJS(index_exports);
})();
