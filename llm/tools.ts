/**
 * Skills' tools as LLM function tools. The offered list is filtered by the chat profile and by what the person
 * speaking may run in this chat (the same `PermissionService.canRun` a typed command goes through, the tool's
 * command included: a tool is never offered to someone refused its command, so the stricter role wins). Every call
 * the model makes is checked again: a tool that was not offered, or is denied now, is refused and the refusal
 * goes back to the model as the tool's result, as do bad arguments and skill errors.
 */
import {
  type Core,
  type PermissionQuery,
  type ToolCallContext,
  type ToolSpec,
  isSwitchboardError,
  type Inbound,
} from "../bot/index.ts";
import type { EffectiveProfile } from "./profile.ts";
import type { ToolCall, ToolDefinition } from "./types.ts";

/** Most tool calls run from one model answer; the rest are refused as tool errors. */
export const MAX_TOOL_CALLS_PER_ROUND = 8;

/** Longest tool result passed back to the model, in characters. */
export const MAX_TOOL_RESULT_CHARS = 16_000;

/** The tools offered in one turn. */
export interface OfferedTools {
  definitions: ToolDefinition[];
  specs: Map<string, ToolSpec>;
}

/** Who is asking, for permission checks. */
export function permissionQuery(inbound: Inbound): PermissionQuery {
  return {
    platform: inbound.platform,
    chatId: inbound.chat.id,
    chatKind: inbound.chat.kind,
    userId: inbound.user.id,
    platformRole: inbound.user.platformRole,
  };
}

/** True when the profile's tool selection includes this tool (by skill or tool name). */
export function profileAllows(
  profile: Pick<EffectiveProfile, "tools">,
  spec: Pick<ToolSpec, "name" | "skill">,
): boolean {
  if (profile.tools === "all") return true;
  if (profile.tools === "none") return false;
  return profile.tools.includes(spec.skill) || profile.tools.includes(spec.name);
}

/** The tools this speaker may use in this chat. */
export async function offerTools(
  core: Pick<Core, "tools" | "permissions">,
  profile: Pick<EffectiveProfile, "tools">,
  { chatKey, query }: { chatKey: string; query: PermissionQuery },
): Promise<OfferedTools> {
  const specs = new Map<string, ToolSpec>();
  if (profile.tools === "none") return { definitions: [], specs };
  for (const spec of core.tools.list(chatKey)) {
    if (!profileAllows(profile, spec)) continue;
    const decision = await core.permissions.canRun(query, {
      name: spec.name,
      defaultRole: spec.defaultRole,
      skill: spec.skill,
      ...(spec.command === undefined ? {} : { command: spec.command }),
    });
    if (decision.allowed) specs.set(spec.name, spec);
  }
  const definitions = [...specs.values()].map((s) => ({
    name: s.name,
    description: s.description,
    parameters: s.parameters,
  }));
  return { definitions, specs };
}

/** Run one tool call; always returns text for the model (errors included). */
export async function runToolCall(
  core: Pick<Core, "tools" | "permissions" | "log">,
  call: ToolCall,
  { offered, ctx }: { offered: OfferedTools; ctx: ToolCallContext },
): Promise<{ content: string; ok: boolean }> {
  const spec = offered.specs.get(call.name);
  if (spec === undefined) {
    core.log.warn(
      { chat: ctx.chatKey, user: ctx.userKey, tool: call.name },
      "model called a tool that was not offered; refused",
    );
    return {
      ok: false,
      content: `error: tool "${call.name}" is not available to this user here. Do not call it again.`,
    };
  }
  const decision = await core.permissions.canRun(permissionQuery(ctx.inbound), {
    name: spec.name,
    defaultRole: spec.defaultRole,
    skill: spec.skill,
    ...(spec.command === undefined ? {} : { command: spec.command }),
  });
  if (!decision.allowed)
    return { ok: false, content: `error: permission denied for "${call.name}": ${decision.reason}` };
  let args: unknown;
  try {
    args = call.arguments.trim() === "" ? {} : JSON.parse(call.arguments);
  } catch (error) {
    return {
      ok: false,
      content: `error: the arguments were not valid JSON (${(error as Error).message}). Call "${call.name}" again with a JSON object matching its schema.`,
    };
  }
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    return { ok: false, content: `error: the arguments must be a JSON object matching the schema of "${call.name}".` };
  }
  try {
    const result = await core.tools.call(call.name, args, ctx);
    return {
      ok: true,
      content:
        result.length > MAX_TOOL_RESULT_CHARS ? `${result.slice(0, MAX_TOOL_RESULT_CHARS)}… (truncated)` : result,
    };
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    const message = isSwitchboardError(error) ? error.chatMessage : "the tool failed";
    core.log.warn({ err: error, chat: ctx.chatKey, tool: call.name }, "tool call failed");
    return { ok: false, content: `error: ${message}` };
  }
}
