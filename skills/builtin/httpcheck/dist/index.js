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

  // skills/builtin/httpcheck/src/index.ts
  var index_exports = {};
  __export(index_exports, {
    default: () => index_default
  });

  // skills/sdk/index.ts
  function defineSkill(definition) {
    return definition;
  }
  function errorCode(error) {
    return typeof error === "object" && error !== null && typeof error.code === "string" ? error.code : void 0;
  }

  // skills/builtin/httpcheck/src/index.ts
  var index_default = defineSkill({
    commands: {
      httpcheck: async (ctx) => {
        const url = ctx.args[0];
        if (url === void 0) return "Usage: /httpcheck https://example.com";
        const started = Date.now();
        try {
          const res = await ctx.fetch(url, { method: "GET", timeoutMs: 1e4 });
          const ms = Date.now() - started;
          return `${res.ok ? "✅" : "⚠️"} ${res.url} answered **${res.status}** in ${ms} ms (${res.body.length} bytes).`;
        } catch (error) {
          const code = errorCode(error);
          const message = error instanceof Error ? error.message : "failed";
          return `❌ ${url.slice(0, 200)}: ${message}${code === "E_SKILL_DENIED" ? " (allowed hosts are listed in the skill's manifest)" : ""}`;
        }
      }
    }
  });
  return __toCommonJS(index_exports);
})();
