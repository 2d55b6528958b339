/**
 * The runner `switchboard skill test` plays scripts with: the bot's real runtime (isolate in a skill host,
 * capabilities, router, permission checks). The script format and the player are the SDK's
 * (`@switchboard/skill-sdk/cli`); chat lines go through the router, tool calls through the tool registry the LLM
 * module uses; events go straight to the skill's handlers in the listener isolate (`feedEvent`), as the bot's
 * event bus would hand them over. Each run talks in a fresh chat, so per-chat storage starts empty.
 */
import { randomBytes } from "node:crypto";
import {
  scriptFileBytes,
  type ScriptEvent,
  type ScriptFile,
  type SkillRunner,
  type TestScript,
} from "@switchboard/skill-sdk/cli";
import type { Attachment, ChatEvent, Core, Inbound, Plugin, Reply, SentMessage } from "../../bot/index.ts";
import { parseCommandLine, SwitchboardError, toSwitchboardError } from "../../bot/index.ts";
import type { SkillRuntime } from "../service.ts";

/** A started app with the skills plugin; `stop` ends it when the runner closes. */
export interface RuntimeRunnerApp {
  core: Core;
  plugins: readonly Plugin[];
  stop(): Promise<void>;
}

/** A `SkillRunner` over a started app. */
export function createRuntimeRunner(app: RuntimeRunnerApp): SkillRunner {
  const skillsPlugin = app.plugins.find((p) => p.name === "skills") as
    | (Plugin & { service?: SkillRuntime })
    | undefined;
  const skills = skillsPlugin?.service;
  const platform = "skilltest";
  const chatId = `test-${randomBytes(4).toString("hex")}`;
  const chatKey = `${platform}:${chatId}`;
  let script: TestScript = { steps: [] };
  let loaded: string | undefined;
  let n = 0;

  const inbound = (text: string, replies: string[], files: readonly ScriptFile[] = []): Inbound => {
    const command = parseCommandLine(text);
    return {
      ...(files.length === 0 ? {} : { attachments: files.map(attachmentOf) }),
      deliveryId: `${chatKey}:${++n}`,
      platform,
      chat: { id: chatId, kind: "dm", title: "skill test" },
      user: { id: "tester", displayName: script.user ?? "Tester" },
      text,
      ...(command === undefined ? {} : { command }),
      receivedAt: Date.now(),
      respond: async (reply: Reply): Promise<SentMessage> => {
        replies.push(reply.text);
        return { platform, chatId, messageId: String(replies.length) };
      },
    };
  };

  return {
    async load(dir, theScript) {
      if (skills === undefined)
        throw new SwitchboardError("E_SKILL_FAILED", "the skill runtime is not running in this bot (no skills plugin)");
      script = theScript;
      const skill = await skills.load(dir, { source: "linked" });
      loaded = skill.name;
      await skills.enable(chatKey, skill.name, "skilltest:author");
      return skill.name;
    },

    async send(line, _role, files) {
      const replies: string[] = [];
      try {
        await app.core.router.process(inbound(line, replies, files));
      } catch (error) {
        replies.push(`(error) ${toSwitchboardError(error).chatMessage}`);
      }
      return replies;
    },

    async callTool(name, args) {
      const replies: string[] = [];
      const controller = new AbortController();
      try {
        const result = await app.core.tools.call(`${loaded}__${name}`, args, {
          inbound: inbound(`(tool ${name})`, replies),
          chatKey,
          userKey: `${platform}:tester`,
          role: "owner",
          signal: controller.signal,
        });
        return { result, replies };
      } catch (error) {
        return { result: `(error) ${toSwitchboardError(error).chatMessage}`, replies };
      }
    },

    async event(event: ScriptEvent) {
      const replies: string[] = [];
      if (skills === undefined || loaded === undefined) return ["(error) no skill is loaded"];
      const target = { platform, chatId };
      const chatEvent: ChatEvent =
        event.type === "message"
          ? { type: "message", chatKey, inbound: inbound(event.text, replies) }
          : event.type === "reaction"
            ? {
                type: "reaction",
                chatKey,
                inbound: { ...inbound("", replies), reaction: { emoji: event.emoji, added: true, messageId: "1" } },
              }
            : event.type === "hook"
              ? {
                  type: "hook",
                  chatKey,
                  target,
                  hook: { id: "skilltest", name: event.name, template: "generic" },
                  deliveryId: `skilltest-${++n}`,
                  payload: event.payload,
                  text: event.text,
                }
              : event.type === "schedule"
                ? { type: "schedule", chatKey, target, scheduleId: "skilltest", commandLine: event.command }
                : { type: "lifecycle", chatKey, skill: loaded, event: event.event };
      try {
        const heard = await skills.feedEvent(loaded, chatEvent, async (reply) => replies.push(reply.text));
        if (!heard && event.type !== "message") replies.push(`(error) the skill does not listen to ${event.type} here`);
      } catch (error) {
        replies.push(`(error) ${toSwitchboardError(error).chatMessage}`);
      }
      return replies;
    },

    async close() {
      try {
        if (loaded !== undefined) await skills?.unload(loaded);
      } finally {
        await app.stop();
      }
    },
  };
}

/** A script's file as a message attachment, read from memory within the reader's limit. */
function attachmentOf(file: ScriptFile): Attachment {
  const bytes = scriptFileBytes(file);
  return {
    name: file.name,
    mimeType: file.mimeType ?? "application/octet-stream",
    size: bytes.length,
    fetch: async ({ maxBytes }) => {
      if (bytes.length > maxBytes)
        throw new SwitchboardError("E_FILE_TOO_LARGE", `${file.name} is over ${maxBytes} bytes`, {
          chatMessage: `The file ${file.name} is too large.`,
        });
      return bytes;
    },
  };
}
