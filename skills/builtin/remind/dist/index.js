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

  // skills/builtin/remind/src/index.ts
  var index_exports = {};
  __export(index_exports, {
    default: () => index_default
  });

  // skills/sdk/index.ts
  function defineSkill(definition) {
    return definition;
  }

  // skills/builtin/remind/src/index.ts
  var KEY = "list";
  var MAX = 50;
  async function load(ctx) {
    const list = await ctx.storage.get(KEY);
    return Array.isArray(list) ? list : [];
  }
  function show(list) {
    if (list.length === 0) return "Nothing to remember. Add one: /remind water the plants";
    return `**Reminders**
${list.map((r, i) => `- ${i + 1}. ${r.text} (${r.by})`).join("\n")}`;
  }
  var index_default = defineSkill({
    commands: {
      remind: async (ctx) => {
        const [first, second] = ctx.args;
        const verb = (first ?? "list").toLowerCase();
        const list = await load(ctx);
        if (ctx.args.length === 0 || verb === "list" && ctx.args.length === 1) return show(list);
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
          return `Done: ${removed.text}`;
        }
        if (list.length >= MAX) return `The list is full (${MAX}). Mark some done first.`;
        const text = ctx.rawArgs.trim().slice(0, 300);
        list.push({ text, by: ctx.user.name, at: (/* @__PURE__ */ new Date()).toISOString() });
        await ctx.storage.set(KEY, list);
        return `Noted (#${list.length}): ${text}`;
      }
    },
    tools: {
      list_reminders: async (_args, ctx) => (await load(ctx)).map((r) => r.text)
    }
  });
  return __toCommonJS(index_exports);
})();
