/** Streaming replies as throttled edits, and the config shorthand for models. */
import { describe, expect, it } from "vitest";
import type { AdapterHub, ChannelAdapter, Inbound, Reply, SentMessage } from "../../../bot/index.ts";
import { resolveModels } from "../../../llm/registry.ts";
import { splitAt, StreamingReply } from "../../../llm/stream.ts";
import { loadConfig } from "../../../config/index.ts";
import { TestAdapter } from "../../helpers/test-adapter.ts";

/** A hub over one real test adapter, as the composition root builds it. */
function hubOf(adapter: ChannelAdapter): AdapterHub {
  return {
    get: (p) => (p === adapter.platform ? adapter : undefined),
    list: () => [adapter],
    send: (target, reply) => adapter.send(target, reply),
    edit: (message, reply) => adapter.edit(message, reply),
  };
}

class SlowEditAdapter extends TestAdapter {
  gate: Promise<void> = Promise.resolve();
  override async edit(message: SentMessage, reply: Reply): Promise<void> {
    await this.gate;
    await super.edit(message, reply);
  }
}

const dm = (adapter: TestAdapter): Inbound => adapter.inbound("hi", { chatId: "s", chatKind: "dm" });

describe("StreamingReply", () => {
  it("sends the first fragment, edits the same message, and ends with the whole text", async () => {
    const adapter = new TestAdapter();
    const s = new StreamingReply({ inbound: dm(adapter), adapters: hubOf(adapter), editIntervalMs: 0 });
    for (const f of ["Hel", "lo ", "wor", "ld"]) {
      s.push(f);
      await new Promise((r) => setImmediate(r));
    }
    await s.finish({ text: "Hello world" });
    expect(adapter.sent[0]!.edited).toBeUndefined();
    expect(new Set(adapter.sent.map((m) => m.messageId)).size).toBe(1);
    expect(adapter.sent.at(-1)).toMatchObject({ edited: true, text: "Hello world" });
    expect(adapter.sent.slice(0, -1).every((m) => m.text.endsWith("▍"))).toBe(true);
  });

  it("throttles edits and coalesces fragments that arrive while an edit is in flight", async () => {
    const adapter = new SlowEditAdapter();
    let open!: () => void;
    const s = new StreamingReply({ inbound: dm(adapter), adapters: hubOf(adapter), editIntervalMs: 0 });
    s.push("a");
    await new Promise((r) => setImmediate(r));
    adapter.gate = new Promise((r) => (open = r));
    s.push("b");
    await new Promise((r) => setTimeout(r, 5));
    for (const f of "cdefghij") s.push(f);
    open();
    await s.finish({ text: "abcdefghij" });
    // 1 send, at most 2 streaming edits for 10 fragments, 1 final edit.
    expect(adapter.sent.length).toBeLessThanOrEqual(4);
    expect(adapter.sent.at(-1)!.text).toBe("abcdefghij");
  });

  it("waits the edit interval between edits", async () => {
    const adapter = new TestAdapter();
    const s = new StreamingReply({ inbound: dm(adapter), adapters: hubOf(adapter), editIntervalMs: 60_000 });
    s.push("one");
    await new Promise((r) => setImmediate(r));
    s.push(" two");
    s.push(" three");
    await new Promise((r) => setTimeout(r, 20));
    expect(adapter.sent).toHaveLength(1);
    await s.finish({ text: "one two three" });
    expect(adapter.sent.map((m) => m.text)).toEqual(["one ▍", "one two three"]);
  });

  it("sends once at the end where the adapter cannot edit", async () => {
    const adapter = new TestAdapter();
    const hub = { ...hubOf(adapter), get: () => undefined };
    const s = new StreamingReply({ inbound: dm(adapter), adapters: hub, editIntervalMs: 0 });
    expect(s.isLive).toBe(false);
    s.push("partial");
    await s.finish({ text: "final" });
    expect(adapter.sent.map((m) => m.text)).toEqual(["final"]);
  });

  it("splits a final text longer than the platform allows", () => {
    expect(splitAt("aaaa\nbbbb", 6)).toEqual(["aaaa", "bbbb"]);
    expect(splitAt("short", 10)).toEqual(["short", ""]);
  });
});

describe("model config shorthand", () => {
  const load = (env: Record<string, string>) => loadConfig({ cwd: "/nonexistent-dir-for-test", env }).config.llm;

  it("turns OPENAI_* variables into one OpenAI-compatible model", () => {
    const models = resolveModels(
      load({ OPENAI_BASE_URL: "http://127.0.0.1:8000/v1", OPENAI_API_KEY: "sk-test", OPENAI_MODEL: "qwen2.5" }),
    );
    expect(models).toEqual([
      expect.objectContaining({
        name: "qwen2.5",
        provider: "openai",
        model: "qwen2.5",
        baseUrl: "http://127.0.0.1:8000/v1",
        apiKey: "sk-test",
      }),
    ]);
  });

  it("turns OLLAMA_HOST (with or without a scheme) into an Ollama model", () => {
    expect(resolveModels(load({ OLLAMA_HOST: "127.0.0.1:11434" }))).toEqual([
      expect.objectContaining({ name: "llama3.2", provider: "ollama", host: "http://127.0.0.1:11434" }),
    ]);
  });

  it("configures nothing without variables, and an explicit list wins over the shorthand", () => {
    expect(resolveModels(load({}))).toEqual([]);
    const config = loadConfig({
      cwd: "/nonexistent-dir-for-test",
      env: { OLLAMA_HOST: "127.0.0.1:1" },
      overrides: { "llm.models": [{ name: "x", provider: "ollama", model: "m", host: "http://127.0.0.1:2" }] },
    }).config.llm;
    expect(resolveModels(config).map((m) => m.name)).toEqual(["x"]);
  });

  it("rejects a model with the wrong endpoint field, naming the key", () => {
    expect(() =>
      loadConfig({
        cwd: "/nonexistent-dir-for-test",
        env: {},
        overrides: { "llm.models": [{ name: "x", provider: "ollama", model: "m", baseUrl: "http://127.0.0.1:1/v1" }] },
      }),
    ).toThrowError(/llm\.models\.0\.baseUrl: ollama models take `host`/);
  });
});
