/** Both providers through their real SDKs against the stand-in servers. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../../bot/index.ts";
import { OllamaProvider } from "../../../llm/providers/ollama.ts";
import { OpenAiProvider } from "../../../llm/providers/openai.ts";
import { ProviderFailure, retryAfterFrom } from "../../../llm/providers/failure.ts";
import type { ModelConfig } from "../../../llm/types.ts";
import { llmModelSchema } from "../../../config/sections/llm.ts";
import { startOllamaStandIn, type OllamaStandIn } from "../../stand-ins/ollama/server.ts";
import { startOpenAiStandIn, type OpenAiStandIn } from "../../stand-ins/openai/server.ts";

let openai: OpenAiStandIn;
let ollama: OllamaStandIn;

beforeAll(async () => {
  [openai, ollama] = await Promise.all([startOpenAiStandIn(), startOllamaStandIn()]);
});
afterAll(async () => {
  await Promise.all([openai.close(), ollama.close()]);
});
beforeEach(() => {
  openai.script.clear();
  ollama.script.clear();
});

const model = (o: Record<string, unknown>): ModelConfig => llmModelSchema.parse({ name: "m", model: "stand", ...o });
const oa = (o: Record<string, unknown> = {}) =>
  new OpenAiProvider(model({ provider: "openai", baseUrl: openai.baseUrl, apiKey: "k", ...o }), systemClock);
const ol = (o: Record<string, unknown> = {}) =>
  new OllamaProvider(model({ provider: "ollama", host: ollama.host, ...o }), systemClock);
const user = [{ role: "user" as const, content: "hi" }];
const signal = () => new AbortController().signal;

async function failureOf(p: Promise<unknown>): Promise<ProviderFailure> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderFailure);
  return error as ProviderFailure;
}

describe("OpenAI-compatible provider", () => {
  it("reads a plain JSON answer with usage", async () => {
    openai.script.push("stand", { kind: "text", text: "plain answer", usage: { input: 7, output: 3 } });
    const r = await oa({ stream: false }).chat({ messages: user, signal: signal() });
    expect(r).toMatchObject({
      text: "plain answer",
      toolCalls: [],
      usage: { inputTokens: 7, outputTokens: 3 },
      finishReason: "stop",
    });
    expect(openai.script.requests[0]!.stream).toBe(false);
  });

  it("streams SSE fragments to onText and takes usage from the include_usage chunk", async () => {
    openai.script.push("stand", { kind: "text", text: "abc", chunks: ["a", "b", "c"], usage: { input: 5, output: 2 } });
    const seen: string[] = [];
    const r = await oa().chat({ messages: user, signal: signal(), onText: (f) => seen.push(f) });
    expect(seen).toEqual(["a", "b", "c"]);
    expect(r.usage).toEqual({ inputTokens: 5, outputTokens: 2 });
    expect(openai.script.requests[0]!.body.stream_options).toEqual({ include_usage: true });
  });

  it("assembles streamed tool_calls fragments by index", async () => {
    openai.script.push("stand", {
      kind: "tools",
      calls: [
        { name: "a__x", arguments: { n: 1 } },
        { name: "b__y", arguments: '{"s":"two"}' },
      ],
    });
    const r = await oa().chat({
      messages: user,
      tools: [{ name: "a__x", description: "", parameters: {} }],
      signal: signal(),
    });
    expect(r.finishReason).toBe("tool_calls");
    expect(r.toolCalls.map((c) => [c.name, JSON.parse(c.arguments)])).toEqual([
      ["a__x", { n: 1 }],
      ["b__y", { s: "two" }],
    ]);
    expect(r.toolCalls[0]!.id).toMatch(/^call_/);
  });

  it("sends tool results back with tool_call_id", async () => {
    await oa().chat({
      messages: [
        ...user,
        { role: "assistant", content: "", toolCalls: [{ id: "call_1", name: "a__x", arguments: "{}" }] },
        { role: "tool", toolCallId: "call_1", toolName: "a__x", content: "42" },
      ],
      signal: signal(),
    });
    const sent = openai.script.requests[0]!.messages;
    expect(sent[1]).toMatchObject({
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_1", type: "function", function: { name: "a__x", arguments: "{}" } }],
    });
    expect(sent[2]).toEqual({ role: "tool", tool_call_id: "call_1", content: "42" });
  });

  it("sends the key as a bearer token and the model's own headers, which may replace it", async () => {
    await oa({ stream: false }).chat({ messages: user, signal: signal() });
    expect(openai.script.requests[0]!.headers.authorization).toBe("Bearer k");
    expect(openai.script.requests[0]!.headers["user-agent"]).toBe("switchboard");
    await oa({ stream: false, headers: { "X-Title": "switchboard test", Authorization: "Bearer other" } }).chat({
      messages: user,
      signal: signal(),
    });
    expect(openai.script.requests[1]!.headers["x-title"]).toBe("switchboard test");
    expect(openai.script.requests[1]!.headers.authorization).toBe("Bearer other");
  });

  it("classifies 429 with Retry-After as rate_limit with the wait", async () => {
    openai.script.push("stand", { kind: "error", status: 429, headers: { "retry-after": "7" } });
    const f = await failureOf(oa().chat({ messages: user, signal: signal() }));
    expect(f).toMatchObject({ kind: "rate_limit", status: 429, retryAfterMs: 7000 });
  });

  it("classifies 500 as a server error and 401 as auth", async () => {
    openai.script.push("stand", { kind: "error", status: 500 }, { kind: "error", status: 401 });
    expect(await failureOf(oa().chat({ messages: user, signal: signal() }))).toMatchObject({
      kind: "server",
      status: 500,
    });
    expect(await failureOf(oa().chat({ messages: user, signal: signal() }))).toMatchObject({
      kind: "auth",
      status: 401,
    });
  });

  it("times out a slow stream and calls it a timeout", async () => {
    openai.script.push("stand", { kind: "hang", text: "partial" });
    const seen: string[] = [];
    const f = await failureOf(
      oa({ timeoutMs: 300 }).chat({ messages: user, signal: signal(), onText: (t) => seen.push(t) }),
    );
    expect(f.kind).toBe("timeout");
    expect(seen).toEqual(["partial"]);
  });

  it("does not call the caller's own abort a model failure", async () => {
    openai.script.push("stand", { kind: "hang" });
    const ac = new AbortController();
    const p = oa().chat({ messages: user, signal: ac.signal });
    setTimeout(() => ac.abort(new Error("shutdown")), 100);
    const error = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(ProviderFailure);
  });

  it("reports an unreachable endpoint as a network failure", async () => {
    const f = await failureOf(oa({ baseUrl: "http://127.0.0.1:1/v1" }).chat({ messages: user, signal: signal() }));
    expect(f.kind).toBe("network");
  });
});

describe("Ollama provider", () => {
  it("streams NDJSON fragments and reads eval counts as usage", async () => {
    ollama.script.push("stand", { kind: "text", text: "xyz", chunks: ["x", "y", "z"], usage: { input: 9, output: 4 } });
    const seen: string[] = [];
    const r = await ol().chat({ messages: user, signal: signal(), onText: (f) => seen.push(f) });
    expect(seen).toEqual(["x", "y", "z"]);
    expect(r).toMatchObject({ text: "xyz", usage: { inputTokens: 9, outputTokens: 4 } });
  });

  it("reads a non-streamed answer", async () => {
    ollama.script.push("stand", { kind: "text", text: "whole" });
    const r = await ol({ stream: false }).chat({ messages: user, signal: signal() });
    expect(r.text).toBe("whole");
    expect(ollama.script.requests[0]!.stream).toBe(false);
  });

  it("turns object tool arguments into JSON text and back", async () => {
    ollama.script.push("stand", { kind: "tools", calls: [{ name: "a__x", arguments: { n: 2 } }] });
    const r = await ol().chat({
      messages: user,
      tools: [{ name: "a__x", description: "d", parameters: { type: "object" } }],
      signal: signal(),
    });
    expect(r.toolCalls).toEqual([{ id: "call_0", name: "a__x", arguments: '{"n":2}' }]);
    expect(ollama.script.requests[0]!.tools).toEqual(["a__x"]);
    await ol().chat({
      messages: [
        ...user,
        { role: "assistant", content: "", toolCalls: r.toolCalls },
        { role: "tool", toolCallId: "call_0", toolName: "a__x", content: "ok" },
      ],
      signal: signal(),
    });
    const sent = ollama.script.requests[1]!.messages;
    expect(sent[1]).toMatchObject({
      role: "assistant",
      tool_calls: [{ function: { name: "a__x", arguments: { n: 2 } } }],
    });
    expect(sent[2]).toEqual({ role: "tool", content: "ok", tool_name: "a__x" });
  });

  it("passes malformed (string) tool arguments through for the tool loop to report", async () => {
    ollama.script.push("stand", { kind: "tools", calls: [{ name: "a__x", arguments: "{oops" }] });
    const r = await ol().chat({ messages: user, signal: signal() });
    expect(r.toolCalls[0]!.arguments).toBe("{oops");
  });

  it("classifies HTTP errors and keeps Retry-After", async () => {
    ollama.script.push(
      "stand",
      { kind: "error", status: 429, headers: { "retry-after": "3" } },
      { kind: "error", status: 500, message: "boom" },
    );
    expect(await failureOf(ol().chat({ messages: user, signal: signal() }))).toMatchObject({
      kind: "rate_limit",
      retryAfterMs: 3000,
    });
    expect(await failureOf(ol().chat({ messages: user, signal: signal() }))).toMatchObject({
      kind: "server",
      status: 500,
    });
  });

  it("times out a stream that stops", async () => {
    ollama.script.push("stand", { kind: "hang", text: "par" });
    expect((await failureOf(ol({ timeoutMs: 300 }).chat({ messages: user, signal: signal() }))).kind).toBe("timeout");
  });
});

describe("retryAfterFrom", () => {
  const h = (o: Record<string, string>) => (n: string) => o[n];
  it("reads retry-after-ms, seconds and HTTP dates", () => {
    expect(retryAfterFrom(h({ "retry-after-ms": "1500" }), 0)).toBe(1500);
    expect(retryAfterFrom(h({ "retry-after": "2" }), 0)).toBe(2000);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterFrom(h({ "retry-after": "Thu, 01 Jan 2026 00:00:10 GMT" }), now)).toBe(10_000);
    expect(retryAfterFrom(h({ "retry-after": "soon" }), 0)).toBeUndefined();
    expect(retryAfterFrom(h({}), 0)).toBeUndefined();
  });
});
