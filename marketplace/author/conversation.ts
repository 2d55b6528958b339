/**
 * `switchboard skill test <script>`: load a skill folder into the real runtime (isolate, capabilities, router,
 * permission checks) and play a scripted conversation against it, comparing each reply with what the script
 * expects. Each run talks in a fresh chat, so per-chat storage starts empty.
 *
 * Script (JSON or YAML):
 * ```json
 * { "steps": [ { "send": "/hello", "expect": "Hello Tester! (#1 in this chat)" },
 *              { "send": "/hello x", "expectContains": "x" }, { "send": "/hello", "expectMatch": "#\\d+" } ] }
 * ```
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { Core, Inbound, Plugin, Reply, SentMessage } from "../../bot/index.ts";
import { parseCommandLine, SwitchboardError, toSwitchboardError } from "../../bot/index.ts";
import type { SkillRuntime } from "../service.ts";

// yaml (about 70 modules) loads when YAML is read or written, not with every start.
const parseYaml = (text: string): unknown =>
  (createRequire(import.meta.url)("yaml") as typeof import("yaml")).parse(text);

/** One step of a script. */
export interface ConversationStep {
  send: string;
  expect?: string;
  expectContains?: string;
  expectMatch?: string;
}

/** A conversation script. */
export interface ConversationScript {
  description?: string;
  /** Display name of the speaker (default `Tester`). */
  user?: string;
  steps: ConversationStep[];
}

/** The outcome of one step. */
export interface StepResult {
  send: string;
  replies: string[];
  ok: boolean;
  /** What was expected, for the report. */
  wanted: string;
}

/** Read and check a script file. */
export async function readScript(path: string): Promise<ConversationScript> {
  const text = await readFile(path, "utf8");
  let raw: unknown;
  try {
    raw = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new SwitchboardError(
      "E_BAD_ARGS",
      `${path} is not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${(error as Error).message}`,
    );
  }
  const script = raw as ConversationScript;
  if (
    script === null ||
    typeof script !== "object" ||
    !Array.isArray(script.steps) ||
    script.steps.some((s) => typeof s?.send !== "string")
  ) {
    throw new SwitchboardError(
      "E_BAD_ARGS",
      `${path}: a script is { "steps": [ { "send": "/cmd", "expect": "reply" } ] }`,
    );
  }
  return script;
}

/** Play `script` against the skill in `dir`, inside a started app that has the skills plugin. */
export async function playConversation(
  app: { core: Core; plugins: readonly Plugin[] },
  dir: string,
  script: ConversationScript,
): Promise<{ skill: string; results: StepResult[] }> {
  const skillsPlugin = app.plugins.find((p) => p.name === "skills") as
    | (Plugin & { service?: SkillRuntime })
    | undefined;
  const skills = skillsPlugin?.service;
  if (skills === undefined)
    throw new SwitchboardError("E_SKILL_FAILED", "the skill runtime is not running in this bot (no skills plugin)");
  const loaded = await skills.load(dir, { source: "linked" });
  const chatId = `test-${randomBytes(4).toString("hex")}`;
  const platform = "skilltest";
  const chatKey = `${platform}:${chatId}`;
  await skills.enable(chatKey, loaded.name, "skilltest:author");
  const results: StepResult[] = [];
  let n = 0;
  try {
    for (const step of script.steps) {
      const replies: string[] = [];
      const command = parseCommandLine(step.send);
      const inbound: Inbound = {
        deliveryId: `${chatKey}:${++n}`,
        platform,
        chat: { id: chatId, kind: "dm", title: "skill test" },
        user: { id: "tester", displayName: script.user ?? "Tester" },
        text: step.send,
        ...(command === undefined ? {} : { command }),
        receivedAt: Date.now(),
        respond: async (reply: Reply): Promise<SentMessage> => {
          replies.push(reply.text);
          return { platform, chatId, messageId: String(replies.length) };
        },
      };
      try {
        await app.core.router.process(inbound);
      } catch (error) {
        replies.push(`(error) ${toSwitchboardError(error).chatMessage}`);
      }
      const last = replies.at(-1) ?? "";
      const wanted =
        step.expect !== undefined
          ? `= ${JSON.stringify(step.expect)}`
          : step.expectContains !== undefined
            ? `contains ${JSON.stringify(step.expectContains)}`
            : step.expectMatch !== undefined
              ? `matches /${step.expectMatch}/`
              : "any reply";
      const ok =
        step.expect !== undefined
          ? last === step.expect
          : step.expectContains !== undefined
            ? last.includes(step.expectContains)
            : step.expectMatch !== undefined
              ? new RegExp(step.expectMatch).test(last)
              : replies.length > 0;
      results.push({ send: step.send, replies, ok, wanted });
    }
  } finally {
    await skills.unload(loaded.name);
  }
  return { skill: loaded.name, results };
}
