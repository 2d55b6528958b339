/**
 * 👍 and 👎 reactions on a bot answer as LLM feedback: the same vote as the answer's feedback buttons, checked
 * against the same command (`/ai feedback <turn> up|down`) for the person who reacted, and counted once per
 * person (a later vote replaces the earlier one). Taking a reaction away withdraws that person's vote, if it is
 * still the one the reaction gave.
 */
import { type ChatEvent, type Inbound, userKeyOf } from "../bot/index.ts";
import type { LlmServices } from "./needs.ts";
import type { LlmStore } from "./store.ts";
import { permissionQuery } from "./tools.ts";

/** The vote a reaction emoji gives: 👍 (any skin tone, or Slack's `+1`/`thumbsup`) is 1, 👎 is -1. */
export function voteOf(emoji: string): 1 | -1 | undefined {
  const base = emoji.replace(/[\u{1F3FB}-\u{1F3FF}\u{FE0F}]/gu, "").split("::")[0];
  switch (base) {
    case "👍":
    case "+1":
    case "thumbsup":
      return 1;
    case "👎":
    case "-1":
    case "thumbsdown":
      return -1;
    default:
      return undefined;
  }
}

/** Listen for reactions on `core.events` and record them as feedback; returns the unsubscribe function. */
export function subscribeReactionFeedback(
  core: Pick<LlmServices, "events" | "permissions" | "log" | "track" | "clock">,
  store: Pick<LlmStore, "turnOfMessage" | "setFeedback" | "clearFeedback">,
): () => void {
  return core.events.subscribe((event: ChatEvent) => {
    if (event.type !== "reaction") return;
    const reaction = event.inbound.reaction;
    if (reaction === undefined || reaction.onBotMessage === false) return;
    const vote = voteOf(reaction.emoji);
    if (vote === undefined) return;
    void core.track(
      recordVote(core, store, { chatKey: event.chatKey, inbound: event.inbound, vote }).catch((error: unknown) =>
        core.log.warn({ err: error, chat: event.chatKey }, "could not record a reaction as feedback"),
      ),
    );
  });
}

async function recordVote(
  core: Pick<LlmServices, "permissions" | "log" | "clock">,
  store: Pick<LlmStore, "turnOfMessage" | "setFeedback" | "clearFeedback">,
  { chatKey, inbound, vote }: { chatKey: string; inbound: Inbound; vote: 1 | -1 },
): Promise<void> {
  const reaction = inbound.reaction!;
  const turnId = await store.turnOfMessage(chatKey, reaction.messageId);
  if (turnId === undefined) return; // not an answer of the model (or one forgotten since)
  if (inbound.user.platformRole === undefined && inbound.resolvePlatformRole !== undefined) {
    const role = await inbound.resolvePlatformRole();
    if (role !== undefined) inbound.user.platformRole = role;
  }
  const decision = await core.permissions.canRun(
    permissionQuery(inbound),
    `ai feedback ${turnId} ${vote === 1 ? "up" : "down"}`,
  );
  const by = userKeyOf(inbound.platform, inbound.user.id);
  if (!decision.allowed) {
    core.log.info({ chat: chatKey, user: by, code: decision.code }, "reaction not counted as feedback");
    return;
  }
  if (reaction.added) await store.setFeedback(turnId, chatKey, { value: vote, by, at: core.clock.now() });
  else await store.clearFeedback(turnId, chatKey, { value: vote, by });
}
