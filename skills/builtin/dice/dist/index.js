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

  // skills/builtin/dice/src/index.ts
  var index_exports = {};
  __export(index_exports, {
    default: () => index_default
  });

  // skills/sdk/index.ts
  function defineSkill(definition) {
    return definition;
  }

  // skills/builtin/dice/src/index.ts
  var NOTATION = /^(\d{0,3})d(\d{1,4})([+-]\d{1,5})?$/i;
  function parse(text) {
    const spec = text.trim() === "" ? "1d6" : text.trim().replace(/\s+/g, "");
    const m = NOTATION.exec(spec);
    if (m === null) return `I can't read "${spec.slice(0, 40)}". Try 2d6, d20 or 3d8+2.`;
    const count = m[1] === "" ? 1 : Number(m[1]);
    const sides = Number(m[2]);
    if (count < 1 || count > 100) return "Roll between 1 and 100 dice.";
    if (sides < 2 || sides > 1e3) return "Dice need between 2 and 1000 sides.";
    return { count, sides, modifier: m[3] === void 0 ? 0 : Number(m[3]) };
  }
  function roll(r) {
    const dice = [];
    for (let i = 0; i < r.count; i++) dice.push(1 + Math.floor(Math.random() * r.sides));
    return { dice, total: dice.reduce((a, b) => a + b, 0) + r.modifier };
  }
  function label(r) {
    return `${r.count}d${r.sides}${r.modifier === 0 ? "" : r.modifier > 0 ? `+${r.modifier}` : r.modifier}`;
  }
  var index_default = defineSkill({
    commands: {
      dice: (ctx) => {
        const r = parse(ctx.rawArgs);
        if (typeof r === "string") return r;
        const { dice, total } = roll(r);
        const shown = dice.length <= 20 ? dice.join(" + ") : `${dice.slice(0, 20).join(" + ")} + …`;
        const mod = r.modifier === 0 ? "" : r.modifier > 0 ? ` + ${r.modifier}` : ` - ${-r.modifier}`;
        return `🎲 ${label(r)}: ${shown}${mod} = **${total}**`;
      }
    },
    tools: {
      roll: (args) => {
        const r = parse(typeof args.dice === "string" ? args.dice : "");
        if (typeof r === "string") return { error: r };
        return { roll: label(r), ...roll(r) };
      }
    }
  });
  return __toCommonJS(index_exports);
})();
