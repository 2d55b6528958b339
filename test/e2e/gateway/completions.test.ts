/**
 * The gateway end to end with the real `openai` client: plain, streamed and tool-calling completions through
 * the bot's listener to the OpenAI and Ollama stand-ins; routing by alias with fallback on 429 and 500; every
 * error status in OpenAI's shape; keys never in logs, metrics or error messages.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FALLBACK_HEADER, MODEL_HEADER } from "../../../gateway/index.ts";
import { startOllamaStandIn, type OllamaStandIn } from "../../stand-ins/ollama/server.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";
import { type GatewayBot, startGatewayBot } from "./helpers.ts";

let openai: OpenAiStandIn;
let ollama: OllamaStandIn;
let bot: GatewayBot;
let key: string;
let limitedKey: string;
const keys: string[] = [];

beforeAll(async () => {
  [openai, ollama] = await Promise.all([startOpenAiStandIn(), startOllamaStandIn()]);
  bot = await startGatewayBot({
    llm: {
      models: [
        {
          name: "hosted",
          provider: "openai",
          model: "stand-hosted",
          baseUrl: openai.baseUrl,
          apiKey: "upstream-secret",
          priority: 10,
          costPer1kInput: 1,
          costPer1kOutput: 2,
        },
        {
          name: "hosted-2",
          provider: "openai",
          model: "stand-hosted-2",
          baseUrl: openai.baseUrl,
          apiKey: "upstream-secret",
          stream: false,
        },
        { name: "local", provider: "ollama", model: "stand-llama", host: ollama.host },
        { name: "no-tools", provider: "openai", model: "stand-plain", baseUrl: openai.baseUrl, capabilities: ["chat"] },
        { name: "slow", provider: "openai", model: "stand-slow", baseUrl: openai.baseUrl, timeoutMs: 1_500 },
      ],
      fallback: { baseBackoffMs: 60_000, maxBackoffMs: 60_000, maxWaitMs: 0 },
    },
    gateway: { aliases: { "team-default": ["hosted", "local"], "team-b": ["hosted-2", "local"] } },
  });
  key = (await bot.gateway.keys.create({ userKey: "test:alice", name: "laptop" }, { actor: "test", via: "cli" })).key;
  limitedKey = (
    await bot.gateway.keys.create({ userKey: "test:bob", models: ["local"] }, { actor: "test", via: "cli" })
  ).key;
  keys.push(key, limitedKey);
}, 120_000);

afterAll(async () => {
  await bot?.stop();
  await Promise.all([openai?.close(), ollama?.close()]);
});

beforeEach(async () => {
  openai.script.clear();
  ollama.script.clear();
  // Cooldowns from one test must not steer the next.
  for (const m of ["hosted", "hosted-2", "local", "no-tools", "slow"])
    await bot.app.core.kv.delete(`llm:cooldown:${m}`);
});

describe("POST /v1/chat/completions", () => {
  it("answers a plain completion with the answering model, usage and the parameters passed upstream", async () => {
    openai.script.push("stand-hosted", { kind: "text", text: "Hello!", usage: { input: 7, output: 3 } });
    const res = await bot
      .client(key)
      .chat.completions.create({
        model: "hosted",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: [{ type: "text", text: "hi" }] },
        ],
        temperature: 0.2,
        top_p: 0.9,
        max_tokens: 50,
        stop: ["END"],
        seed: 4,
        response_format: { type: "json_object" },
      })
      .withResponse();
    expect(res.data.model).toBe("hosted");
    expect(res.data.choices[0]!.message.content).toBe("Hello!");
    expect(res.data.choices[0]!.finish_reason).toBe("stop");
    expect(res.data.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
    expect(res.response.headers.get(MODEL_HEADER)).toBe("hosted");
    expect(res.response.headers.get(FALLBACK_HEADER)).toBeNull();
    const sent = openai.script.for("stand-hosted")[0]!;
    expect(sent.body).toMatchObject({
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 50,
      stop: ["END"],
      response_format: { type: "json_object" },
    });
    expect(sent.body.seed).toBeUndefined();
    expect(sent.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "hi" },
    ]);
    // Usage is counted where chat usage is: the key as the chat, its person as the user.
    const today = await bot.llm.service.usage.today("api:x", "test:alice");
    expect(today.user.tokens).toBeGreaterThanOrEqual(10);
  });

  it("streams server-sent events ending in [DONE], with usage in the last chunk when asked", async () => {
    openai.script.push("stand-hosted", {
      kind: "text",
      text: "one two three",
      chunks: ["one ", "two ", "three"],
      usage: { input: 5, output: 3 },
    });
    const stream = await bot.client(key).chat.completions.create({
      model: "hosted",
      messages: [{ role: "user", content: "count" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const pieces: string[] = [];
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) {
      chunks.push(c);
      const t = c.choices[0]?.delta.content;
      if (t) pieces.push(t);
    }
    expect(pieces.join("")).toBe("one two three");
    expect(chunks.every((c) => c.model === "hosted")).toBe(true);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe("stop");
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 3 });
  });

  it("streams the whole answer of a model configured not to stream as one chunk", async () => {
    openai.script.push("stand-hosted-2", { kind: "text", text: "all at once" });
    const stream = await bot
      .client(key)
      .chat.completions.create({ model: "hosted-2", messages: [{ role: "user", content: "x" }], stream: true });
    let text = "";
    for await (const c of stream) text += c.choices[0]?.delta.content ?? "";
    expect(text).toBe("all at once");
    expect(openai.script.for("stand-hosted-2")[0]!.stream).toBe(false);
  });

  it("sends the raw stream as OpenAI does: data lines, then data: [DONE]", async () => {
    openai.script.push("stand-hosted", { kind: "text", text: "ok" });
    const res = await fetch(`${bot.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "hosted", messages: [{ role: "user", content: "x" }], stream: true }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const text = await res.text();
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(
      text
        .split("\n\n")
        .filter((e) => e !== "")
        .every((e) => e.startsWith("data: ")),
    ).toBe(true);
    // Without include_usage no chunk carries a usage field.
    expect(text).not.toContain('"usage"');
  });

  it("passes tools and returns tool calls, streamed and not, and takes the tool result back", async () => {
    const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "Weather",
          parameters: { type: "object", properties: { city: { type: "string" } } },
        },
      },
    ];
    openai.script.push("stand-hosted", {
      kind: "tools",
      calls: [{ name: "get_weather", arguments: { city: "Oslo" } }],
    });
    const first = await bot.client(key).chat.completions.create({
      model: "hosted",
      messages: [{ role: "user", content: "weather in Oslo?" }],
      tools,
      tool_choice: "auto",
    });
    const call = first.choices[0]!.message
      .tool_calls![0]! as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
    expect(first.choices[0]!.finish_reason).toBe("tool_calls");
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ city: "Oslo" });
    expect(openai.script.for("stand-hosted")[0]!.tools).toEqual(["get_weather"]);
    expect(openai.script.for("stand-hosted")[0]!.body.tool_choice).toBe("auto");

    openai.script.push("stand-hosted", {
      kind: "fn",
      fn: (r) => ({ kind: "text", text: `got ${String(r.messages.at(-1)?.content)}` }),
    });
    const second = await bot.client(key).chat.completions.create({
      model: "hosted",
      messages: [
        { role: "user", content: "weather in Oslo?" },
        first.choices[0]!.message,
        { role: "tool", tool_call_id: call.id, content: "sunny" },
      ],
      tools,
    });
    expect(second.choices[0]!.message.content).toBe("got sunny");
    expect(openai.script.for("stand-hosted")[1]!.messages.at(-1)).toMatchObject({
      role: "tool",
      tool_call_id: call.id,
      content: "sunny",
    });

    openai.script.push("stand-hosted", {
      kind: "tools",
      calls: [{ name: "get_weather", arguments: { city: "Rome" } }],
    });
    const stream = bot
      .client(key)
      .chat.completions.stream({ model: "hosted", messages: [{ role: "user", content: "Rome?" }], tools });
    const done = await stream.finalChatCompletion();
    const streamedCall = done.choices[0]!.message
      .tool_calls![0]! as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
    expect(streamedCall.function.name).toBe("get_weather");
    expect(JSON.parse(streamedCall.function.arguments)).toEqual({ city: "Rome" });
    expect(done.choices[0]!.finish_reason).toBe("tool_calls");
  });

  it("passes streamed tool-call fragments through as they come, in OpenAI's chunk shape", async () => {
    const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
      { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: {} } } },
      { type: "function", function: { name: "get_time", parameters: { type: "object", properties: {} } } },
    ];
    openai.script.push("stand-hosted", {
      kind: "tools",
      calls: [
        { name: "get_weather", arguments: { city: "Rome", unit: "celsius" } },
        { name: "get_time", arguments: { zone: "Europe/Rome" } },
      ],
    });
    const stream = bot
      .client(key)
      .chat.completions.stream({ model: "hosted", messages: [{ role: "user", content: "Rome?" }], tools });
    const toolChunks: OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    const argumentDeltas: Array<{ index: number; delta: string }> = [];
    stream.on("chunk", (c) => toolChunks.push(...(c.choices[0]?.delta.tool_calls ?? [])));
    stream.on("tool_calls.function.arguments.delta", (e) =>
      argumentDeltas.push({ index: e.index, delta: e.arguments_delta }),
    );
    const done = await stream.finalChatCompletion();
    // The stand-in sends each call as id and name, then its arguments in two pieces: so does the gateway.
    expect(toolChunks).toHaveLength(6);
    expect(toolChunks[0]).toMatchObject({
      index: 0,
      type: "function",
      function: { name: "get_weather", arguments: "" },
    });
    expect(toolChunks[0]!.id).toMatch(/.+/);
    expect(toolChunks[1]).toEqual({ index: 0, function: { arguments: expect.any(String) } });
    expect(toolChunks[3]).toMatchObject({ index: 1, type: "function", function: { name: "get_time" } });
    expect(argumentDeltas.filter((d) => d.index === 0 && d.delta !== "")).toHaveLength(2);
    const calls = done.choices[0]!.message
      .tool_calls as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall[];
    expect(calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ["get_weather", { city: "Rome", unit: "celsius" }],
      ["get_time", { zone: "Europe/Rome" }],
    ]);
    expect(done.choices[0]!.finish_reason).toBe("tool_calls");

    // Ollama sends each call whole: one fragment with id, name and arguments.
    ollama.script.push("stand-llama", { kind: "tools", calls: [{ name: "get_time", arguments: { zone: "UTC" } }] });
    const whole: OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    const fromOllama = bot
      .client(key)
      .chat.completions.stream({ model: "local", messages: [{ role: "user", content: "time?" }], tools });
    fromOllama.on("chunk", (c) => whole.push(...(c.choices[0]?.delta.tool_calls ?? [])));
    const final = await fromOllama.finalChatCompletion();
    expect(whole).toHaveLength(1);
    expect(whole[0]).toMatchObject({ index: 0, type: "function", function: { name: "get_time" } });
    expect(JSON.parse(whole[0]!.function!.arguments!)).toEqual({ zone: "UTC" });
    expect(final.choices[0]!.finish_reason).toBe("tool_calls");
  });

  it("answers through Ollama by name, with JSON mode as Ollama's format", async () => {
    ollama.script.push("stand-llama", { kind: "text", text: '{"a":1}' });
    const res = await bot.client(key).chat.completions.create({
      model: "local",
      messages: [{ role: "user", content: "json please" }],
      response_format: { type: "json_object" },
    });
    expect(res.model).toBe("local");
    expect(res.choices[0]!.message.content).toBe('{"a":1}');
    expect(ollama.script.for("stand-llama")[0]!.body.format).toBe("json");
  });

  it("falls back along an alias on a 429, names the fallback in a header, and cools the model down", async () => {
    openai.script.push("stand-hosted", { kind: "error", status: 429, headers: { "retry-after": "30" } });
    ollama.script.push("stand-llama", { kind: "text", text: "from local" });
    const res = await bot
      .client(key)
      .chat.completions.create({ model: "team-default", messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    expect(res.data.model).toBe("local");
    expect(res.data.choices[0]!.message.content).toBe("from local");
    expect(res.response.headers.get(FALLBACK_HEADER)).toBe("hosted: rate limited (retry in 30 s)");
    expect(await bot.llm.service.chain.cooldown("hosted")).toBeDefined();
    // While it cools down the chain skips it without asking.
    ollama.script.push("stand-llama", { kind: "text", text: "again local" });
    const again = await bot
      .client(key)
      .chat.completions.create({ model: "team-default", messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    expect(again.data.model).toBe("local");
    expect(again.response.headers.get(FALLBACK_HEADER)).toBe("hosted: cooling down");
    expect(openai.script.for("stand-hosted")).toHaveLength(1);
  });

  it("falls back on a 500 while streaming, before any text is sent", async () => {
    openai.script.push("stand-hosted-2", { kind: "error", status: 500 });
    ollama.script.push("stand-llama", { kind: "text", text: "streamed by local" });
    const stream = await bot
      .client(key)
      .chat.completions.create({ model: "team-b", messages: [{ role: "user", content: "hi" }], stream: true });
    let text = "";
    let model = "";
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? "";
      model = c.model;
    }
    expect(text).toBe("streamed by local");
    expect(model).toBe("local");
  });

  it("answers 502 naming each upstream failure when every model fails", async () => {
    openai.script.push("stand-hosted", { kind: "error", status: 500 });
    ollama.script.push("stand-llama", { kind: "error", status: 503 });
    const error = await bot
      .client(key)
      .chat.completions.create({ model: "team-default", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    const e = error as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(502);
    expect(e.message).toContain("hosted: server error 500");
    expect(e.message).toContain("local: server error 503");
    expect(e.type).toBe("upstream_error");
  });

  it("answers 503 with Retry-After when every model is cooling down", async () => {
    openai.script.push("stand-hosted", { kind: "error", status: 429, headers: { "retry-after": "40" } });
    ollama.script.push("stand-llama", { kind: "error", status: 429, headers: { "retry-after": "20" } });
    await bot
      .client(key)
      .chat.completions.create({ model: "team-default", messages: [{ role: "user", content: "hi" }] })
      .catch(() => undefined);
    const res = await post(key, { model: "team-default", messages: [{ role: "user", content: "hi" }] });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(19);
    expect(Number(res.headers.get("retry-after"))).toBeLessThanOrEqual(20);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("upstream_unavailable");
  });
});

describe("a client that leaves", () => {
  it("aborts the upstream call when the client drops a stream mid-answer", async () => {
    openai.script.push("stand-slow", { kind: "hang", text: "first words" });
    const controller = new AbortController();
    const stream = await bot
      .client(key)
      .chat.completions.create(
        { model: "slow", messages: [{ role: "user", content: "x" }], stream: true },
        { signal: controller.signal },
      );
    for await (const c of stream) {
      if (c.choices[0]?.delta.content === "first words") break; // leaving the loop closes the response
    }
    controller.abort();
    // Had the gateway kept the upstream call, it would time out after 1.5 s and count as a timeout of "slow".
    await new Promise((r) => setTimeout(r, 2_500));
    const metrics = await (await fetch(`${bot.baseUrl.replace("/v1", "")}/metrics`)).text();
    expect(metrics).not.toMatch(/switchboard_llm_calls_total\{model="slow",outcome="timeout"\}/);
    expect(openai.script.for("stand-slow")).toHaveLength(1);
  });
});

describe("errors in OpenAI's shape", () => {
  it("401 for a missing, malformed or unknown key, never repeating it", async () => {
    const wrong = `${key.slice(0, -4)}AAAA`;
    for (const auth of [undefined, "Bearer nonsense", `Bearer ${wrong}`]) {
      const res = await fetch(`${bot.baseUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(auth === undefined ? {} : { authorization: auth }) },
        body: JSON.stringify({ model: "hosted", messages: [{ role: "user", content: "x" }] }),
      });
      expect(res.status).toBe(401);
      const body = await res.text();
      expect(JSON.parse(body).error.type).toBe("authentication_error");
      expect(body).not.toContain(wrong.slice(4, 20));
      expect(body).not.toContain("nonsense");
    }
    const sdk = await bot
      .client(wrong)
      .models.list()
      .catch((e: unknown) => e);
    expect((sdk as { status?: number }).status).toBe(401);
  });

  it("403 for a model the key may not use, 404 for an unknown one", async () => {
    const forbidden = await bot
      .client(limitedKey)
      .chat.completions.create({ model: "hosted", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((forbidden as InstanceType<typeof OpenAI.APIError>).param).toBe("model");
    const unknown = await bot
      .client(key)
      .chat.completions.create({ model: "gpt-9", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect((unknown as InstanceType<typeof OpenAI.APIError>).code).toBe("model_not_found");
    expect(openai.script.requests).toHaveLength(0);
  });

  it("400 naming the field: a bad value, an unknown parameter, n > 1, a tool message without its call", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ model: "hosted", messages: [{ role: "user", content: "x" }], temperature: 5 }, "temperature"],
      [{ model: "hosted", messages: [{ role: "wizard", content: "x" }] }, "messages[0].role"],
      [{ model: "hosted", messages: [{ role: "user", content: "x" }], frobnicate: 1 }, "frobnicate"],
      [{ model: "hosted", messages: [{ role: "user", content: "x" }], n: 2 }, "n"],
      [{ model: "hosted", messages: [{ role: "tool", tool_call_id: "c1", content: "x" }] }, "messages[0].tool_call_id"],
      [
        { model: "hosted", messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] },
        "messages[0].content[0]",
      ],
    ];
    for (const [body, param] of cases) {
      const res = await post(key, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const json = (await res.json()) as { error: { type: string; param: string; message: string } };
      expect(json.error.type).toBe("invalid_request_error");
      expect(json.error.param, JSON.stringify(json)).toBe(param);
    }
    expect(openai.script.requests).toHaveLength(0);
  });
});

describe("GET /v1/models", () => {
  it("lists the models and aliases the key may use", async () => {
    const all = await bot.client(key).models.list();
    expect(all.data.map((m) => m.id)).toEqual([
      "hosted",
      "hosted-2",
      "local",
      "no-tools",
      "slow",
      "team-default",
      "team-b",
    ]);
    const limited = await bot.client(limitedKey).models.list();
    expect(limited.data.map((m) => m.id)).toEqual(["local"]);
  });
});

describe("keys stay secret", () => {
  it("never appear in logs, metrics or error messages", async () => {
    openai.script.push("stand-hosted", { kind: "error", status: 500 });
    ollama.script.push("stand-llama", { kind: "error", status: 500 });
    await post(key, { model: "team-default", messages: [{ role: "user", content: "x" }] });
    await post(key, { model: "hosted", messages: "nope" });
    await post(`${key}x`, { model: "hosted", messages: [] });
    const metrics = await (await fetch(`${bot.baseUrl.replace("/v1", "")}/metrics`)).text();
    expect(metrics).toContain("switchboard_gateway_requests_total");
    for (const k of keys) {
      // `sbk_<12 hex id>_<secret>`: no part of the secret, and not the whole key, anywhere.
      const secret = k.slice(17);
      expect(secret).toHaveLength(43);
      for (const piece of [k, secret.slice(0, 12), secret.slice(-12)]) {
        expect(bot.logs()).not.toContain(piece);
        expect(metrics).not.toContain(piece);
      }
    }
    expect(bot.logs().length).toBeGreaterThan(0);
  });
});

function post(apiKey: string, body: unknown): Promise<Response> {
  return fetch(`${bot.baseUrl}/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}
