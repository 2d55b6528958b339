/**
 * A stand-in Ollama server on 127.0.0.1:0: `POST /api/chat` answering one JSON object or NDJSON lines (the last
 * with `done: true`), tool-call arguments as objects (or, scripted as a string, passed through malformed).
 * Errors are `{error}` with an HTTP status. Scripted per test with the same `Script` as the OpenAI stand-in.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { chunk, delay, listenLoopback, readJson, Script, type RecordedRequest, type Step } from "../openai/script.ts";

/** A running stand-in. */
export interface OllamaStandIn {
  readonly script: Script;
  /** `http://127.0.0.1:PORT` */
  readonly host: string;
  close(): Promise<void>;
}

/** Start the stand-in. */
export async function startOllamaStandIn(): Promise<OllamaStandIn> {
  const script = new Script();
  const server = await listenLoopback(
    (req, res) => handle(script, req, res),
    (error) => ({ error: String(error) }),
  );
  return { script, host: `http://127.0.0.1:${server.port}`, close: server.close };
}

async function handle(script: Script, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "POST" || req.url !== "/api/chat") {
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not found" }));
    return;
  }
  const body = await readJson(req);
  const rec: RecordedRequest = {
    model: String(body.model),
    stream: body.stream !== false, // Ollama streams unless told not to
    body,
    messages: (body.messages ?? []) as Array<Record<string, unknown>>,
    tools: ((body.tools ?? []) as Array<{ function: { name: string } }>).map((t) => t.function.name),
    headers: req.headers,
  };
  await answer(script.next(rec), rec, res);
}

async function answer(step: Step, rec: RecordedRequest, res: ServerResponse): Promise<void> {
  if (step.kind === "error") {
    res.writeHead(step.status, { "content-type": "application/json", ...step.headers });
    res.end(JSON.stringify({ error: step.message ?? `scripted ${step.status}` }));
    return;
  }
  if (step.kind === "fn") throw new Error("nested fn steps are not supported");
  if ("delayMs" in step && step.delayMs !== undefined) await delay(step.delayMs);
  const text = step.kind === "hang" ? (step.text ?? "") : step.kind === "text" ? step.text : (step.text ?? "");
  const toolCalls =
    step.kind === "tools" ? step.calls.map((c) => ({ function: { name: c.name, arguments: c.arguments } })) : [];
  const at = new Date().toISOString();
  const final = {
    model: rec.model,
    created_at: at,
    message: { role: "assistant", content: "" },
    done: true,
    done_reason: "stop",
    total_duration: 1,
    load_duration: 1,
    prompt_eval_count: step.kind === "text" && step.usage ? step.usage.input : 12,
    prompt_eval_duration: 1,
    eval_count: step.kind === "text" && step.usage ? step.usage.output : Math.max(1, Math.ceil(text.length / 4)),
    eval_duration: 1,
  };
  if (!rec.stream) {
    if (step.kind === "hang") return;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        ...final,
        message: { role: "assistant", content: text, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
      }),
    );
    return;
  }
  res.writeHead(200, { "content-type": "application/x-ndjson" });
  const line = (o: Record<string, unknown>) => res.write(`${JSON.stringify(o)}\n`);
  if (step.kind === "hang") {
    line({ model: rec.model, created_at: at, message: { role: "assistant", content: text }, done: false });
    return;
  }
  const pieces = step.kind === "text" && step.chunks !== undefined ? step.chunks : text === "" ? [] : chunk(text, 3);
  for (const piece of pieces)
    line({ model: rec.model, created_at: at, message: { role: "assistant", content: piece }, done: false });
  if (toolCalls.length > 0)
    line({
      model: rec.model,
      created_at: at,
      message: { role: "assistant", content: "", tool_calls: toolCalls },
      done: false,
    });
  res.end(`${JSON.stringify(final)}\n`);
}
