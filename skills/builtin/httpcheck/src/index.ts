/** The httpcheck skill: fetch a URL on a declared host and report its status and time. */
import { defineSkill, errorCode } from "../../../sdk/index.ts";

export default defineSkill({
  commands: {
    httpcheck: async (ctx) => {
      const url = ctx.args[0];
      if (url === undefined) return "Usage: /httpcheck https://example.com";
      const started = Date.now();
      try {
        const res = await ctx.fetch(url, { method: "GET", timeoutMs: 10_000 });
        const ms = Date.now() - started;
        return `${res.ok ? "✅" : "⚠️"} ${res.url} answered **${res.status}** in ${ms} ms (${res.body.length} bytes).`;
      } catch (error) {
        const code = errorCode(error);
        const message = error instanceof Error ? error.message : "failed";
        return `❌ ${url.slice(0, 200)}: ${message}${code === "E_SKILL_DENIED" ? " (allowed hosts are listed in the skill's manifest)" : ""}`;
      }
    },
  },
});
