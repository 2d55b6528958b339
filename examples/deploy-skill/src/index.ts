/**
 * deploy: `/deploy <env>` asks "Deploy to <env>?" with Deploy / Cancel buttons and remembers the request for two
 * minutes; `/deploy <env> confirm` (the Deploy button sends it) starts the deploy on the CI server with the chat's
 * `token` setting; `/deploy cancel` drops the request. The manifest makes the command admin-only
 * (`defaultRole: "admin"`), so the bot refuses members before this code runs.
 */
import { defineSkill, errorCode, type SkillContext } from "@switchboard/skill-sdk";

const ENVIRONMENTS = ["staging", "production"];
const CONFIRM_WINDOW_MS = 2 * 60_000;
const USAGE = "Usage: /deploy <staging|production>, then /deploy <env> confirm (or /deploy cancel)";

interface Pending {
  env: string;
  expiresAt: number;
}

/** One pending request per person per chat. */
const pendingKey = (ctx: SkillContext): string => `pending:${ctx.user.id}`;

async function startDeploy(ctx: SkillContext, env: string): Promise<string> {
  const settings = await ctx.settings.get();
  const token = typeof settings.token === "string" ? settings.token : "";
  if (token === "") return "No CI token is set for this chat: an admin sets the skill's `token` setting first.";
  const ciUrl = String(settings.ciUrl ?? "https://ci.example.com").replace(/\/+$/, "");
  try {
    const response = await ctx.fetch(`${ciUrl}/api/deploys`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ environment: env, requestedBy: ctx.user.name }),
    });
    if (response.status === 401) return "The CI server refused the token: check the skill's `token` setting.";
    if (!response.ok) return `The CI server answered ${response.status}: ${response.body.slice(0, 200)}`;
    const deploy = await response.json<{ id: number; url: string }>();
    return `Deploy #${deploy.id} of ${env} started by ${ctx.user.name}: ${deploy.url}`;
  } catch (error) {
    if (errorCode(error) === "E_SKILL_DENIED") return `This chat has not granted the CI host (${ciUrl}).`;
    throw error;
  }
}

export default defineSkill({
  commands: {
    deploy: async (ctx) => {
      const [env = "", step = ""] = ctx.args.map((a) => a.toLowerCase());
      if (env === "cancel") {
        const had = await ctx.storage.get<Pending>(pendingKey(ctx));
        await ctx.storage.delete(pendingKey(ctx));
        return had === undefined ? "Nothing to cancel." : `Cancelled the deploy to ${had.env}.`;
      }
      if (!ENVIRONMENTS.includes(env)) return env === "" ? USAGE : `Unknown environment "${env}". ${USAGE}`;
      if (step === "") {
        await ctx.storage.set(pendingKey(ctx), { env, expiresAt: Date.now() + CONFIRM_WINDOW_MS });
        return {
          text: `Deploy to **${env}**? Confirm within 2 minutes.`,
          buttons: [
            [
              { label: "Deploy", data: `/deploy ${env} confirm` },
              { label: "Cancel", data: "/deploy cancel" },
            ],
          ],
        };
      }
      if (step !== "confirm") return USAGE;
      const pending = await ctx.storage.get<Pending>(pendingKey(ctx));
      if (pending === undefined || pending.env !== env || pending.expiresAt < Date.now()) {
        return `Nothing to confirm for ${env}: run /deploy ${env} first.`;
      }
      await ctx.storage.delete(pendingKey(ctx));
      return startDeploy(ctx, env);
    },
  },
});
