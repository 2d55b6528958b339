/**
 * `POST /v1/chat/completions`: who is calling (a personal key), what they may reach (routing, limits), then one
 * call along the fallback chain, answered as JSON or as server-sent events. Usage goes to the same tables and
 * counters as chat turns (chat key `api:<keyId>`, the key's person as the user), call records to the same
 * statistics, so `/models`, `/metrics` and the quotas see both.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { ApiAnswer, ApiRequest, Clock, SqlClient } from "../bot/index.ts";
import { SwitchboardError } from "../bot/index.ts";
import {
  type ChatResult,
  costOf,
  dayOf,
  describeFailure,
  encodingFor,
  type LlmService,
  type ModelConfig,
  ProviderFailure,
  type TokenUsage,
  type ToolCallFragment,
} from "../llm/index.ts";
import type { Budgets } from "./budgets.ts";
import type { AnswerCache } from "./cache.ts";
import { GatewayError } from "./errors.ts";
import { EventQueue } from "./event-queue.ts";
import { recordHit } from "./hits.ts";
import type { KeyInfo, KeyService } from "./keys.ts";
import type { Limits } from "./limits.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { ModelRouter } from "./routing.ts";
import { chunkEvent, type CompletionRequest, completionBody, type ModelAsk, toModelAsk } from "./wire.ts";

/** The header naming the model that answered. */
export const MODEL_HEADER = "x-switchboard-model";
/** The header naming the models passed over and why, when the answer came from a fallback. */
export const FALLBACK_HEADER = "x-switchboard-fallback";
/** The header marking an answer from the cache (`hit`), or a request that skips it (`off` sent by the client). */
export const CACHE_HEADER = "x-switchboard-cache";

/** What the completions handler uses. */
export interface CompletionDeps {
  llm: LlmService;
  keys: KeyService;
  router: ModelRouter;
  limits: Limits;
  budgets: Budgets;
  cache: AnswerCache;
  metrics: GatewayMetrics;
  clock: Clock;
  /** The store's SQL (cache hits). */
  sql: SqlClient;
  /** Background work that shutdown waits for. */
  track: <T>(p: Promise<T>) => Promise<T>;
  log: Pick<Logger, "warn">;
}

/** One answer, whichever way it came. */
interface Answered {
  result: Pick<ChatResult, "text" | "toolCalls" | "finishReason">;
  usage: TokenUsage;
  model: ModelConfig;
  passedOver: Array<{ model: string; reason: string }>;
}

/** The caller's key from `Authorization: Bearer …`, or a 401 that never repeats what was sent. */
export async function authenticate(
  keys: KeyService,
  headers: ApiRequest<unknown, unknown, unknown>["headers"],
): Promise<KeyInfo> {
  const auth = headers.authorization;
  const bearer = typeof auth === "string" && /^bearer /i.test(auth) ? auth.slice(7).trim() : undefined;
  if (bearer === undefined || bearer === "")
    throw new GatewayError(401, "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.", {
      type: "authentication_error",
      code: "missing_api_key",
    });
  const key = await keys.verify(bearer);
  if (key === undefined)
    throw new GatewayError(401, "Incorrect API key provided, or the key was revoked or has expired.", {
      type: "authentication_error",
      code: "invalid_api_key",
    });
  return key;
}

/** Answer one request. Gateway errors become OpenAI-shaped answers; anything else is the listener's 500. */
export async function completions(
  d: CompletionDeps,
  req: ApiRequest<unknown, unknown, CompletionRequest>,
): Promise<ApiAnswer> {
  try {
    const key = await authenticate(d.keys, req.headers);
    const body = req.body;
    const ask = toModelAsk(body);
    const models = d.router.resolve(body.model, key.models);
    await d.limits.admit(key);
    await d.budgets.admit(key);
    // `last_used_at` is bookkeeping: the answer does not wait for it, shutdown does.
    afterwards(d, "note a key's use", d.keys.touch(key.id));
    const cacheKey = d.cache.keyFor({ key, request: body, ask, headers: req.headers });
    if (cacheKey !== undefined) {
      const hit = await d.cache.get(cacheKey);
      if (hit !== undefined) return await cached(d, { key, body, hit });
    }
    if (body.stream === true) return await streamed(d, { key, body, ask, models, signal: req.signal, cacheKey });
    const answered = await callChain(d, { key, ask, models, signal: req.signal });
    afterwards(d, "record the usage of a gateway request", account(d, key, answered));
    if (cacheKey !== undefined) afterwards(d, "cache an answer", d.cache.set(cacheKey, answered));
    d.metrics.request("ok");
    return {
      status: 200,
      headers: answerHeaders(answered),
      body: completionBody({
        id: newId(),
        created: seconds(d.clock),
        model: answered.model.name,
        result: answered.result,
        usage: answered.usage,
      }),
    };
  } catch (error) {
    // The client left: nobody reads this answer, and it is not the gateway's failure.
    if (req.signal.aborted && !(error instanceof GatewayError)) {
      d.metrics.request("client_closed");
      return {
        status: 499,
        body: { error: { message: "client closed request", type: "invalid_request_error", param: null, code: null } },
      };
    }
    const e = toGatewayError(error);
    d.metrics.request(String(e.status));
    return e.answer();
  }
}

/** Run the chain, recording each attempt; `onText` streams fragments of the model that is answering. */
async function callChain(
  d: CompletionDeps,
  o: {
    key: KeyInfo;
    ask: ModelAsk;
    models: ModelConfig[];
    signal: AbortSignal;
    onStart?: (model: ModelConfig, passedOver: Answered["passedOver"]) => void;
    onText?: (fragment: string) => void;
    onToolCall?: (fragment: ToolCallFragment) => void;
  },
): Promise<Answered> {
  const passedOver: Answered["passedOver"] = [];
  let streamedAny = false;
  const out = await d.llm.chain.run(
    o.models,
    async (model) => {
      for (const m of o.models) {
        if (m.name === model.name) break;
        if (!passedOver.some((p) => p.model === m.name)) passedOver.push({ model: m.name, reason: "cooling down" });
      }
      const tools = model.capabilities.includes("tools") ? o.ask.tools : [];
      if (o.ask.tools.length > 0 && tools.length === 0) {
        const failure = new ProviderFailure("bad_request", "does not take tools");
        passedOver.push({ model: model.name, reason: failure.message });
        throw failure;
      }
      const started = performance.now();
      let announced = false;
      const announce = (): void => {
        if (announced) return;
        announced = true;
        streamedAny = true;
        o.onStart?.(model, [...passedOver]);
      };
      try {
        const result = await d.llm.registry.provider(model.name).chat({
          messages: o.ask.messages,
          ...(tools.length === 0 ? {} : { tools }),
          ...(o.ask.temperature === undefined ? {} : { temperature: o.ask.temperature }),
          ...(o.ask.topP === undefined ? {} : { topP: o.ask.topP }),
          ...(o.ask.maxTokens === undefined ? {} : { maxTokens: o.ask.maxTokens }),
          ...(o.ask.stop === undefined ? {} : { stop: o.ask.stop }),
          ...(o.ask.responseFormat === undefined ? {} : { responseFormat: o.ask.responseFormat }),
          ...(o.ask.toolChoice === undefined ? {} : { toolChoice: o.ask.toolChoice }),
          signal: o.signal,
          ...(o.onText === undefined
            ? {}
            : {
                onText: (fragment: string) => {
                  announce();
                  o.onText!(fragment);
                },
              }),
          ...(o.onToolCall === undefined
            ? {}
            : {
                onToolCall: (fragment: ToolCallFragment) => {
                  announce();
                  o.onToolCall!(fragment);
                },
              }),
        });
        const encoding = encodingFor(model);
        const usage = result.usage ?? {
          inputTokens: d.llm.counter.countMessages(o.ask.messages, encoding),
          outputTokens: d.llm.counter.count(
            result.text + result.toolCalls.map((c) => c.name + c.arguments).join(""),
            encoding,
          ),
        };
        record(d, model, { ok: true, latencyMs: performance.now() - started, usage });
        if (!announced) o.onStart?.(model, [...passedOver]);
        return { result, usage };
      } catch (error) {
        if (error instanceof ProviderFailure) {
          record(d, model, { ok: false, kind: error.kind, latencyMs: performance.now() - started });
          passedOver.push({ model: model.name, reason: describeFailure(error) });
          // Part of this model's answer is out already: another model cannot take over mid-answer.
          if (streamedAny)
            throw new SwitchboardError("E_LLM_UNAVAILABLE", `${model.name} broke off: ${describeFailure(error)}`);
        }
        throw error;
      }
    },
    o.signal,
  );
  return { ...out.value, model: out.model, passedOver };
}

/** The streamed answer: headers once the first fragment (or the whole answer) is there, then chunks. */
async function streamed(
  d: CompletionDeps,
  o: {
    key: KeyInfo;
    body: CompletionRequest;
    ask: ModelAsk;
    models: ModelConfig[];
    signal: AbortSignal;
    cacheKey: string | undefined;
  },
): Promise<ApiAnswer> {
  const id = newId();
  const created = seconds(d.clock);
  const withUsage = o.body.stream_options?.include_usage === true;
  const upstream = new AbortController();
  const signal = AbortSignal.any([o.signal, upstream.signal]);
  const queue = new EventQueue();
  let head: { model: ModelConfig; passedOver: Answered["passedOver"] } | undefined;
  let hasText = false;
  let hasToolFragments = false;
  const chunk = (
    delta: Record<string, unknown> | undefined,
    extra: { finishReason?: string; usage?: TokenUsage } = {},
  ) =>
    chunkEvent({
      id,
      created,
      model: head!.model.name,
      ...(delta === undefined ? {} : { delta }),
      finishReason: extra.finishReason ?? null,
      usage: extra.usage ?? null,
      withUsageField: withUsage,
    });
  const started = new Promise<void>((resolve) => {
    const run = callChain(d, {
      key: o.key,
      ask: o.ask,
      models: o.models,
      signal,
      onStart: (model, passedOver) => {
        head = { model, passedOver };
        queue.push(chunk({ role: "assistant", content: "", refusal: null }));
        resolve();
      },
      onText: (fragment) => {
        hasText = true;
        queue.push(chunk({ content: fragment }));
      },
      // Tool calls pass through fragment by fragment, in OpenAI's delta shape.
      onToolCall: (f) => {
        hasToolFragments = true;
        queue.push(chunk({ tool_calls: [toolCallDelta(f)] }));
      },
    });
    run.then(
      async (answered) => {
        // A model configured not to stream (`stream: false`) answers whole: its text goes out as one chunk.
        if (!hasText && answered.result.text !== "") queue.push(chunk({ content: answered.result.text }));
        afterwards(d, "record the usage of a gateway request", account(d, o.key, answered));
        if (o.cacheKey !== undefined) afterwards(d, "cache an answer", d.cache.set(o.cacheKey, answered));
        if (!hasToolFragments) for (const e of toolCallEvents(answered, chunk)) queue.push(e);
        queue.push(chunk({}, { finishReason: finishReasonOf(answered) }));
        if (withUsage) queue.push(chunk(undefined, { usage: answered.usage }));
        queue.push("data: [DONE]\n\n");
        queue.end();
        d.metrics.request("ok");
      },
      (error: unknown) => {
        queue.fail(error);
        resolve();
      },
    );
  });
  await started;
  if (head === undefined) throw await queue.failure(); // nothing sent yet: an ordinary error answer
  return {
    status: 200,
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      ...answerHeaders({ model: head.model, passedOver: head.passedOver }),
    },
    stream: (async function* () {
      try {
        for await (const event of queue) yield event;
      } catch (error) {
        // Mid-answer failure: OpenAI's clients raise an `error` event as an APIError.
        const e = orInternal(error);
        d.metrics.request(String(e.status));
        yield `data: ${JSON.stringify(e.body())}\n\n`;
      } finally {
        upstream.abort(new Error("the client went away"));
      }
    })(),
  };
}

/** A cached answer, as JSON or as a short stream; usage counted at zero cost and marked as a hit. */
async function cached(
  d: CompletionDeps,
  o: { key: KeyInfo; body: CompletionRequest; hit: Answered },
): Promise<ApiAnswer> {
  const zeroUsage = { usage: { inputTokens: 0, outputTokens: 0 }, cost: 0 };
  afterwards(d, "record a cache hit", d.llm.usage.add(`api:${o.key.id}`, o.key.userKey, zeroUsage));
  afterwards(
    d,
    "record a cache hit",
    recordHit(d.sql, { day: dayOf(d.clock.now()), model: o.hit.model.name, userKey: o.key.userKey, keyId: o.key.id }),
  );
  d.metrics.cacheHit(o.hit.model.name);
  d.metrics.request("cache_hit");
  const headers = { ...answerHeaders({ model: o.hit.model, passedOver: [] }), [CACHE_HEADER]: "hit" };
  const id = newId();
  const created = seconds(d.clock);
  const zero = { inputTokens: 0, outputTokens: 0 };
  if (o.body.stream !== true)
    return {
      status: 200,
      headers,
      body: completionBody({ id, created, model: o.hit.model.name, result: o.hit.result, usage: zero }),
    };
  const withUsage = o.body.stream_options?.include_usage === true;
  const chunk = (
    delta: Record<string, unknown> | undefined,
    extra: { finishReason?: string; usage?: TokenUsage } = {},
  ) =>
    chunkEvent({
      id,
      created,
      model: o.hit.model.name,
      ...(delta === undefined ? {} : { delta }),
      finishReason: extra.finishReason ?? null,
      usage: extra.usage ?? null,
      withUsageField: withUsage,
    });
  const events = [
    chunk({ role: "assistant", content: "", refusal: null }),
    ...(o.hit.result.text === "" ? [] : [chunk({ content: o.hit.result.text })]),
    chunk({}, { finishReason: finishReasonOf(o.hit) }),
    ...(withUsage ? [chunk(undefined, { usage: zero })] : []),
    "data: [DONE]\n\n",
  ];
  return {
    status: 200,
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...headers },
    stream: (async function* () {
      yield* events;
    })(),
  };
}

function toolCallEvents(a: Answered, chunk: (delta: Record<string, unknown>) => string): string[] {
  return a.result.toolCalls.map((c, index) =>
    chunk({ tool_calls: [{ index, id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }] }),
  );
}

/** One streamed fragment as OpenAI sends it: the first with id, type and name, the rest with arguments only. */
function toolCallDelta(f: ToolCallFragment): Record<string, unknown> {
  const fn = {
    ...(f.name === undefined ? {} : { name: f.name }),
    ...(f.arguments === undefined ? (f.name === undefined ? {} : { arguments: "" }) : { arguments: f.arguments }),
  };
  return {
    index: f.index,
    ...(f.id === undefined ? {} : { id: f.id, type: "function" }),
    function: fn,
  };
}

function finishReasonOf(a: Pick<Answered, "result">): string {
  if (a.result.toolCalls.length > 0) return "tool_calls";
  return a.result.finishReason === "length" ? "length" : "stop";
}

/**
 * Bookkeeping after the answer: the client does not wait for it, shutdown does (`track`), and a failure is
 * logged. Writes start before the answer goes out, so this process's next request reads them (the store runs
 * one process's statements in order; across processes a daily cap may be passed by the requests in flight).
 */
function afterwards(d: CompletionDeps, what: string, work: Promise<unknown>): void {
  void d.track(work.catch((error: unknown) => d.log.warn({ err: error }, `could not ${what}`)));
}

/** Usage in the shared tables and counters: the key as the "chat", its person as the user. */
async function account(d: CompletionDeps, key: KeyInfo, a: Answered): Promise<void> {
  await d.llm.usage.add(`api:${key.id}`, key.userKey, { usage: a.usage, cost: costOf(a.model, a.usage) });
}

function record(
  d: CompletionDeps,
  model: ModelConfig,
  r: { ok: boolean; kind?: string; latencyMs: number; usage?: TokenUsage },
): void {
  const usage = r.usage ?? { inputTokens: 0, outputTokens: 0 };
  d.llm.metrics?.call(model.name, r.ok ? "ok" : (r.kind ?? "unknown"), {
    seconds: r.latencyMs / 1000,
    tokens: r.usage,
  });
  d.llm.stats.record({
    model: model.name,
    at: d.clock.now(),
    ok: r.ok,
    kind: r.kind,
    latencyMs: r.latencyMs,
    ...usage,
    cost: costOf(model, usage),
  });
}

function answerHeaders(a: Pick<Answered, "model" | "passedOver">): Record<string, string> {
  return {
    [MODEL_HEADER]: a.model.name,
    ...(a.passedOver.length === 0
      ? {}
      : {
          [FALLBACK_HEADER]: a.passedOver
            .map((p) => `${p.model}: ${p.reason}`)
            .join("; ")
            .replace(/[\r\n]/g, " "),
        }),
  };
}

/** Every failure as the client sees it. */
function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof SwitchboardError && error.code === "E_LLM_UNAVAILABLE") {
    const passedOver = (error.details as { passedOver?: Answered["passedOver"] } | undefined)?.passedOver ?? [];
    const list = passedOver.length === 0 ? error.message : passedOver.map((p) => `${p.model}: ${p.reason}`).join("; ");
    const allCooling = passedOver.length > 0 && passedOver.every((p) => p.reason.startsWith("cooling down"));
    const waits = passedOver.map((p) => Number(/\((\d+) s left\)/.exec(p.reason)?.[1] ?? 1));
    return allCooling
      ? new GatewayError(503, `Every model is cooling down: ${list}`, {
          type: "server_error",
          code: "upstream_unavailable",
          headers: { "retry-after": String(Math.max(1, Math.min(...waits))) },
        })
      : new GatewayError(502, `Every upstream model failed: ${list}`, {
          type: "upstream_error",
          code: "upstream_failed",
        });
  }
  if (error instanceof SwitchboardError && error.code === "E_LLM_NOT_CONFIGURED")
    return new GatewayError(503, "No model is configured.", { type: "server_error", code: "model_not_configured" });
  if (error instanceof SwitchboardError && error.code === "E_STORAGE")
    return new GatewayError(503, "The gateway's store is not answering; try again.", {
      type: "server_error",
      code: "store_unavailable",
      headers: { "retry-after": "1" },
    });
  throw error;
}

function orInternal(error: unknown): GatewayError {
  try {
    return toGatewayError(error);
  } catch {
    return new GatewayError(500, "internal error", { type: "server_error" });
  }
}

// randomUUID draws from a cached pool of entropy: no system call per request, as randomBytes makes.
const newId = (): string => `chatcmpl-${randomUUID().replaceAll("-", "")}`;
const seconds = (clock: Clock): number => Math.floor(clock.now() / 1000);
