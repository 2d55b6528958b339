/**
 * One conversational turn: decide whether to answer, check quotas, build the prompt from the conversation's own
 * history, run the model along the fallback chain with tool rounds, stream the answer as edits, then store the
 * turn, the usage and the per-model statistics.
 */
import {
  type ConversationHandler,
  SwitchboardError,
  cleanChatText,
  isSwitchboardError,
  conversationId,
  type Inbound,
  type Reply,
  type Role,
} from "../bot/index.ts";
import type { AnswerCacheSlot, TurnCacheQuery } from "./answer-cache.ts";
import type { LlmServices } from "./needs.ts";
import type { FallbackChain, ChainResult } from "./fallback.ts";
import { buildPrompt } from "./history.ts";
import type { EffectiveProfile, ProfileService } from "./profile.ts";
import { ProviderFailure } from "./providers/failure.ts";
import type { ModelRegistry } from "./registry.ts";
import type { LlmStore, TurnRecord } from "./store.ts";
import { StreamingReply } from "./stream.ts";
import { encodingFor, type TokenCounter } from "./tokens.ts";
import { MAX_TOOL_CALLS_PER_ROUND, offerTools, permissionQuery, runToolCall } from "./tools.ts";
import { costOf, dayOf, type UsageService } from "./usage.ts";
import type { CallStats } from "./stats.ts";
import type { LlmMetrics } from "./metrics.ts";
import type { ChatImage, ChatMessage, ChatResult, ModelConfig, TokenUsage, ToolDefinition } from "./types.ts";

/** What `ConversationEngine` needs. */
export interface ConversationDeps {
  core: LlmServices;
  registry: ModelRegistry;
  store: LlmStore;
  profiles: ProfileService;
  usage: UsageService;
  counter: TokenCounter;
  chain: FallbackChain;
  stats: CallStats;
  metrics?: LlmMetrics | undefined;
  /** The answer cache turns may use (the profile's `cache`), once a module provides one. */
  answerCache?: AnswerCacheSlot | undefined;
}

/** One model call's outcome inside a turn. */
interface Attempt {
  result: ChatResult;
  usage: TokenUsage;
}

/** Everything one completion needs. */
interface CompletionInput {
  models: ModelConfig[];
  profile: EffectiveProfile;
  systemPrompt: string;
  history: readonly TurnRecord[];
  current: ChatMessage[];
  tools: readonly ToolDefinition[];
  signal: AbortSignal;
  streamer?: StreamingReply | undefined;
}

/** Runs conversational turns and skills' completions. */
export class ConversationEngine {
  readonly #d: ConversationDeps;

  constructor(deps: ConversationDeps) {
    this.#d = deps;
  }

  /** The router's conversation handler. */
  readonly handler: ConversationHandler = async (inbound, ctx) => {
    if (!this.#d.registry.isConfigured || inbound.user.isBot === true) return false;
    if (inbound.text.trim() === "" && imagesOf(inbound).length === 0) return false;
    const profile = await this.#d.profiles.resolve(ctx.chatKey);
    if (!shouldAnswer(inbound, profile)) return false;
    await this.turn(inbound, { ...ctx, profile });
    return true;
  };

  /** Answer one message. Throws `SwitchboardError`s the router shows in chat. */
  async turn(
    inbound: Inbound,
    ctx: { chatKey: string; userKey: string; role: Role; signal: AbortSignal; profile: EffectiveProfile },
  ): Promise<void> {
    const d = this.#d;
    const { profile } = ctx;
    const models = this.#models(profile);
    await d.usage.check(ctx.chatKey, ctx.userKey);
    const stopTyping = startTyping(inbound, d.core.config.llm.typingIntervalMs);
    const streamer = new StreamingReply({
      inbound,
      adapters: d.core.adapters,
      editIntervalMs: d.core.config.llm.editIntervalMs,
      log: d.core.log,
    });
    let finished = false;
    try {
      const conversation = conversationId({
        platform: inbound.platform,
        chatId: inbound.chat.id,
        threadId: inbound.threadId,
      });
      const [history, offered, turnId] = await Promise.all([
        d.store.recentTurns(conversation, profile.historyTurns),
        offerTools(d.core, profile, { chatKey: ctx.chatKey, query: permissionQuery(inbound) }),
        d.store.nextTurnId(),
      ]);
      const speaker = inbound.chat.kind === "dm" ? inbound.text : `${inbound.user.displayName}: ${inbound.text}`;
      const images = models.some(isVision) ? await this.#readImages(inbound, ctx.signal) : [];
      const current: ChatMessage[] = [
        images.length === 0 ? { role: "user", content: speaker } : { role: "user", content: speaker, images },
      ];
      // A turn with images is never answered from the cache: its key would not hold them.
      const cacheQuery =
        images.length > 0
          ? undefined
          : this.#cacheQuery({ profile, userKey: ctx.userKey, models, history, current, offered });
      const cache = cacheQuery === undefined ? undefined : d.answerCache?.current;
      const hit = cache === undefined ? undefined : await cache.get(cacheQuery!);
      const hitModel = hit === undefined ? undefined : d.registry.get(hit.model);
      const total: TokenUsage = { inputTokens: 0, outputTokens: 0 };
      let cost = 0;
      let last: ChainResult<Attempt> | undefined;
      let shown = models;
      const isHit = hit !== undefined && hitModel !== undefined;
      if (isHit) {
        // The same turn was answered before: the answer again, at no cost, the hit counted for its model.
        last = {
          value: {
            result: { text: hit.text, toolCalls: [], usage: undefined, finishReason: hit.finishReason },
            usage: { inputTokens: 0, outputTokens: 0 },
          },
          model: hitModel,
          passedOver: [],
        };
        shown = [hitModel];
      } else {
        const maxRounds = d.core.config.llm.maxToolRounds;
        for (let round = 0; ; round++) {
          const mayUseTools = round < maxRounds;
          last = await this.#complete({
            models,
            profile,
            systemPrompt: profile.systemPrompt,
            history,
            current,
            tools: mayUseTools ? offered.definitions : [],
            signal: ctx.signal,
            streamer: streamer.isLive ? streamer : undefined,
          });
          const { result, usage } = last.value;
          total.inputTokens += usage.inputTokens;
          total.outputTokens += usage.outputTokens;
          cost += costOf(last.model, usage);
          if (result.toolCalls.length === 0 || !mayUseTools) break;
          await this.#runTools(result, current, {
            offered,
            ctx: {
              inbound,
              chatKey: ctx.chatKey,
              userKey: ctx.userKey,
              role: ctx.role,
              signal: ctx.signal,
            },
          });
        }
        // Kept only when the model answered in one round, without calling a tool.
        const oneRound = current.length === 1 && last.value.result.toolCalls.length === 0;
        if (cache !== undefined && oneRound) {
          const kept = cache.set(cacheQuery!, { result: last.value.result, model: last.model.name });
          void d.core.track(
            kept.catch((error: unknown) => d.core.log.warn({ err: error }, "could not cache an answer")),
          );
        }
      }
      const answer = last.value.result.text.trim() === "" ? "(no answer)" : last.value.result.text;
      current.push({ role: "assistant", content: answer });
      // The answer is shown first; the turn is stored before this handler returns, so the conversation's next
      // message (queued behind this one by the router) sees it in its history.
      const sent = await streamer.finish(this.#finalReply(inbound, answer, { last, models: shown, turnId }));
      finished = true;
      await d.store.appendTurnWithUsage(
        {
          id: turnId,
          conversation,
          chatKey: ctx.chatKey,
          userKey: ctx.userKey,
          usageKey: d.usage.keyOf(ctx.userKey),
          at: d.core.clock.now(),
          model: last.model.name,
          systemPrompt: profile.systemPrompt,
          // Images are sent once, never stored with the turn or sent again as history.
          messages: current.map(withoutImages),
          tokens: d.counter.countMessages(current, encodingFor(last.model)),
          ...total,
          cost,
        },
        dayOf(d.core.clock.now()),
      );
      // A 👍/👎 reaction on the message that carries the answer (and its buttons) is feedback on this turn.
      await d.store.linkAnswer({ chatKey: ctx.chatKey, messageId: sent.messageId, turnId });
      if (isHit) await cache!.hit({ model: last.model.name, chatKey: ctx.chatKey, userKey: ctx.userKey });
      d.usage.recorded({
        chatKey: ctx.chatKey,
        userKey: d.usage.keyOf(ctx.userKey),
        cost,
        tokens: total.inputTokens + total.outputTokens,
      });
    } catch (error) {
      if (finished) {
        // The person has the answer; only its record is missing. Log it rather than showing an error.
        d.core.log.error({ err: error, chat: ctx.chatKey }, "could not store an LLM turn");
        return;
      }
      const isStopped =
        ctx.signal.aborted && isSwitchboardError(ctx.signal.reason) && ctx.signal.reason.code === "E_STOPPED";
      await streamer.abandon(isStopped ? "(stopped)" : "(answer interrupted)");
      throw error;
    } finally {
      stopTyping();
    }
  }

  /** One completion for a skill (the `llm` capability): no tools, no streaming, under the chat's quota. */
  async completeForSkill(input: {
    chatKey: string;
    userKey: string;
    system: string | undefined;
    messages: ChatMessage[];
    signal: AbortSignal;
  }): Promise<{ text: string; model: string }> {
    const d = this.#d;
    const profile = await d.profiles.resolve(input.chatKey);
    const models = this.#models(profile);
    await d.usage.check(input.chatKey, input.userKey);
    const out = await this.#complete({
      models,
      profile,
      systemPrompt: input.system ?? "You are a helper called by a chat bot's skill. Answer exactly what is asked.",
      history: [],
      current: input.messages,
      tools: [],
      signal: input.signal,
    });
    await d.usage.add(input.chatKey, input.userKey, {
      usage: out.value.usage,
      cost: costOf(out.model, out.value.usage),
    });
    return { text: out.value.result.text, model: out.model.name };
  }

  #models(profile: EffectiveProfile): ModelConfig[] {
    if (!this.#d.registry.isConfigured) {
      throw new SwitchboardError("E_LLM_NOT_CONFIGURED", "no models configured");
    }
    const models = this.#d.registry.chain(profile.models);
    if (models.length === 0) {
      throw new SwitchboardError(
        "E_LLM_NOT_CONFIGURED",
        `chain ${profile.models.join(",")} names no configured model`,
        {
          chatMessage: `None of this chat's models (${profile.models.join(", ")}) is configured. An admin can pick one with /ai model.`,
        },
      );
    }
    return models;
  }

  /** What identifies this turn in the answer cache, or undefined when the profile or the turn may not use it. */
  #cacheQuery(o: {
    profile: EffectiveProfile;
    userKey: string;
    models: ModelConfig[];
    history: readonly TurnRecord[];
    current: ChatMessage[];
    offered: { definitions: readonly ToolDefinition[] };
  }): TurnCacheQuery | undefined {
    const { cache, temperature } = o.profile;
    if (!cache.enabled || this.#d.answerCache?.current === undefined) return undefined;
    if (temperature !== 0 && !cache.sampled) return undefined;
    return {
      who: cache.shared ? "*" : o.userKey,
      chain: o.models.map((m) => m.name),
      messages: [
        { role: "system", content: o.profile.systemPrompt },
        ...o.history.flatMap((t) => t.messages),
        ...o.current,
      ],
      params: { temperature: temperature ?? null, tools: o.offered.definitions },
    };
  }

  async #complete(input: CompletionInput): Promise<ChainResult<Attempt>> {
    const d = this.#d;
    return d.chain.run(
      input.models,
      async (model) => {
        const encoding = encodingFor(model);
        const tools = model.capabilities.includes("tools") ? input.tools : [];
        const prompt = buildPrompt({
          model,
          encoding,
          counter: d.counter,
          systemPrompt: input.systemPrompt,
          history: input.history,
          // A model without vision in the chain gets the text alone.
          current: isVision(model) ? input.current : input.current.map(withoutImages),
          tools,
        });
        input.streamer?.reset();
        const started = performance.now();
        try {
          const result = await d.registry.provider(model.name).chat({
            messages: prompt.messages,
            ...(tools.length === 0 ? {} : { tools: [...tools] }),
            ...(input.profile.temperature === undefined ? {} : { temperature: input.profile.temperature }),
            signal: input.signal,
            ...(input.streamer === undefined ? {} : { onText: (f: string) => input.streamer!.push(f) }),
          });
          const usage = result.usage ?? {
            inputTokens: prompt.promptTokens,
            outputTokens: d.counter.count(
              result.text + result.toolCalls.map((c) => c.name + c.arguments).join(""),
              encoding,
            ),
          };
          this.#record(model, { ok: true, latencyMs: performance.now() - started, usage });
          return { result, usage };
        } catch (error) {
          if (error instanceof ProviderFailure)
            this.#record(model, { ok: false, kind: error.kind, latencyMs: performance.now() - started });
          throw error;
        }
      },
      input.signal,
    );
  }

  async #runTools(
    result: ChatResult,
    current: ChatMessage[],
    { offered, ctx }: Parameters<typeof runToolCall>[2],
  ): Promise<void> {
    current.push({ role: "assistant", content: result.text, toolCalls: result.toolCalls });
    for (const [i, call] of result.toolCalls.entries()) {
      const out =
        i < MAX_TOOL_CALLS_PER_ROUND
          ? await runToolCall(this.#d.core, call, { offered, ctx })
          : {
              ok: false,
              content: `error: at most ${MAX_TOOL_CALLS_PER_ROUND} tool calls per answer; this one was not run.`,
            };
      current.push({ role: "tool", toolCallId: call.id, toolName: call.name, content: out.content });
    }
  }

  /**
   * The message's images (at most `MAX_IMAGES`), each read within `limits.maxAttachmentBytes` from the platform's
   * file host; one that cannot be read is left out and logged, and the turn goes on with the rest.
   */
  async #readImages(inbound: Inbound, signal: AbortSignal): Promise<ChatImage[]> {
    const maxBytes = this.#d.core.config.limits.maxAttachmentBytes;
    const read = await Promise.all(
      imagesOf(inbound)
        .slice(0, MAX_IMAGES)
        .map(async (a): Promise<ChatImage | undefined> => {
          try {
            const bytes = await a.fetch({ maxBytes, signal });
            return { mimeType: a.mimeType, base64: Buffer.from(bytes).toString("base64") };
          } catch (error) {
            this.#d.core.log.info({ err: error, attachment: a.name }, "an image was not sent to the model");
            return undefined;
          }
        }),
    );
    return read.filter((i): i is ChatImage => i !== undefined);
  }

  #record(model: ModelConfig, r: { ok: boolean; kind?: string; latencyMs: number; usage?: TokenUsage }): void {
    const d = this.#d;
    const usage = r.usage ?? { inputTokens: 0, outputTokens: 0 };
    d.metrics?.call(model.name, r.ok ? "ok" : (r.kind ?? "unknown"), { seconds: r.latencyMs / 1000, tokens: r.usage });
    d.stats.record({
      model: model.name,
      at: d.core.clock.now(),
      ok: r.ok,
      kind: r.kind,
      latencyMs: r.latencyMs,
      ...usage,
      cost: costOf(model, usage),
    });
  }

  #finalReply(
    inbound: Inbound,
    answer: string,
    { last, models, turnId }: { last: ChainResult<Attempt>; models: ModelConfig[]; turnId: number },
  ): Reply {
    // The model's words reach the chat cleaned like a skill's: no raw mentions, controls or hiding links.
    let text = cleanChatText(answer);
    if (last.model.name !== models[0]?.name && last.passedOver.length > 0) {
      const why = last.passedOver.map((p) => `${p.model}: ${p.reason}`).join("; ");
      text += `\n\n_answered by ${last.model.name} (fallback; ${why})_`;
    }
    const adapter = this.#d.core.adapters.get(inbound.platform);
    if (this.#d.core.config.llm.feedbackButtons && adapter?.capabilities.buttons === true) {
      return {
        text,
        buttons: [
          [
            { label: "👍", data: `/ai feedback ${turnId} up` },
            { label: "👎", data: `/ai feedback ${turnId} down` },
          ],
        ],
      };
    }
    return { text };
  }
}

/** Most images of one message sent to a model. */
const MAX_IMAGES = 4;

function isVision(model: ModelConfig): boolean {
  return model.capabilities.includes("vision");
}

/** The message's attachments that are images. */
function imagesOf(inbound: Inbound): NonNullable<Inbound["attachments"]> {
  return (inbound.attachments ?? []).filter((a) => a.mimeType.startsWith("image/"));
}

function withoutImages(m: ChatMessage): ChatMessage {
  if (m.role !== "user" || m.images === undefined) return m;
  const { images: _images, ...rest } = m;
  return rest;
}

/** DMs when on; groups on mention or reply to the bot (or as the profile says); never other bots. */
export function shouldAnswer(inbound: Inbound, profile: Pick<EffectiveProfile, "enabled" | "groupTrigger">): boolean {
  if (!profile.enabled || inbound.user.isBot === true) return false;
  if (inbound.chat.kind === "dm") return true;
  switch (profile.groupTrigger) {
    case "always":
      return true;
    case "never":
      return false;
    default:
      return inbound.mentionsBot === true || inbound.replyTo?.isToBot === true;
  }
}

function startTyping(inbound: Inbound, intervalMs: number): () => void {
  if (inbound.typing === undefined) return () => undefined;
  const tick = (): void => {
    inbound.typing?.().catch(() => undefined);
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref?.();
  return () => clearInterval(timer);
}
