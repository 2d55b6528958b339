/**
 * Export a chat's conversations as chat-format JSONL for fine-tuning open models: one line per conversation,
 * `{"messages": [...]}` in the OpenAI chat format (system, user, assistant with `tool_calls`, tool). A
 * conversation is one thread's turns, split where two turns are further apart than `conversationGapMs`.
 * Where people rated answers (buttons or 👍/👎 reactions), the line also has `"feedback"`: one entry per rated
 * answer, `{ "message": <index of its assistant message>, "label": "good" | "bad" | "mixed", "up", "down" }`.
 */
import type { TurnRecord } from "./store.ts";
import type { ChatMessage } from "./types.ts";

/** One message in the export format. */
export type ExportMessage =
  | { role: "system" | "user"; content: string }
  | {
      role: "assistant";
      content: string | null;
      tool_calls?: Array<{ id: string; type: "function"; function: { name: string; arguments: string } }>;
    }
  | { role: "tool"; tool_call_id: string; content: string };

/** Group turns (ordered by conversation, then time) into conversations. */
export function groupConversations(turns: readonly TurnRecord[], gapMs: number): TurnRecord[][] {
  const out: TurnRecord[][] = [];
  let current: TurnRecord[] = [];
  for (const t of turns) {
    const prev = current[current.length - 1];
    if (prev !== undefined && (prev.conversation !== t.conversation || t.at - prev.at > gapMs)) {
      out.push(current);
      current = [];
    }
    current.push(t);
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** A rated answer in an export line. */
export interface ExportFeedback {
  /** Index in the line's `messages` of the answer (the turn's last assistant message). */
  message: number;
  label: "good" | "bad" | "mixed";
  up: number;
  down: number;
}

/** One message in the export format. */
export function toExportMessage(m: ChatMessage): ExportMessage {
  switch (m.role) {
    case "system":
    case "user":
      return { role: m.role, content: m.content };
    case "assistant":
      return m.toolCalls === undefined || m.toolCalls.length === 0
        ? { role: "assistant", content: m.content }
        : {
            role: "assistant",
            content: m.content === "" ? null : m.content,
            tool_calls: m.toolCalls.map((c) => ({
              id: c.id,
              type: "function" as const,
              function: { name: c.name, arguments: c.arguments },
            })),
          };
    case "tool":
      return { role: "tool", tool_call_id: m.toolCallId, content: m.content };
  }
}

/** The JSONL text (one line per conversation, each ending in a newline) and the counts. */
export function exportJsonl(
  turns: readonly TurnRecord[],
  gapMs: number,
): { text: string; conversations: number; turns: number } {
  const groups = groupConversations(turns, gapMs);
  const lines = groups.map((group) => {
    // Each turn ran under its own system prompt: it is written before the first turn and again wherever it changed.
    const messages: ExportMessage[] = [];
    const feedback: ExportFeedback[] = [];
    let current: string | undefined;
    for (const t of group) {
      const system = t.systemPrompt;
      if (system !== null && system !== "" && system !== current) {
        messages.push({ role: "system", content: system });
        current = system;
      }
      messages.push(...t.messages.map(toExportMessage));
      const rated = feedbackOf(t, messages);
      if (rated !== undefined) feedback.push(rated);
    }
    return JSON.stringify(feedback.length === 0 ? { messages } : { messages, feedback });
  });
  return { text: lines.map((l) => `${l}\n`).join(""), conversations: groups.length, turns: turns.length };
}

/** The turn's votes as an export entry pointing at its answer (just appended to `messages`), if it has any. */
function feedbackOf(turn: TurnRecord, messages: readonly ExportMessage[]): ExportFeedback | undefined {
  const up = turn.votes?.up ?? (turn.feedback === 1 ? 1 : 0);
  const down = turn.votes?.down ?? (turn.feedback === -1 ? 1 : 0);
  if (up === 0 && down === 0) return undefined;
  let answer = messages.length - 1;
  while (answer >= 0 && messages[answer]!.role !== "assistant") answer--;
  if (answer < 0) return undefined;
  return { message: answer, label: down === 0 ? "good" : up === 0 ? "bad" : "mixed", up, down };
}
