/**
 * A stand-in OpenAI-compatible server on 127.0.0.1:0: `GET /v1/models` (401 for `REFUSED_API_KEY`), and
 * `POST /v1/chat/completions` answering JSON or SSE
 * (`data: {chunk}` … `data: [DONE]`), with streamed `delta.tool_calls` fragments by index and a usage chunk when
 * `stream_options.include_usage` is set. Scripted per test (see `Script`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { chunk, delay, listenLoopback, readJson, Script, type RecordedRequest, type Step } from "./script.ts";

/** A running stand-in. */
export interface OpenAiStandIn {
  readonly script: Script;
  /** `http://127.0.0.1:PORT/v1` */
  readonly baseUrl: string;
  close(): Promise<void>;
}

/** Start the stand-in. */
export async function startOpenAiStandIn(): Promise<OpenAiStandIn> {
  const script = new Script();
  const server = await listenLoopback(
    (req, res) => handle(script, req, res),
    (error) => ({ error: { message: String(error) } }),
  );
  return { script, baseUrl: `http://127.0.0.1:${server.port}/v1`, close: server.close };
}

/** The key the stand-in refuses with 401 (every other key, or none, is accepted). */
export const REFUSED_API_KEY = "sk-refused";

async function handle(script: Script, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === "GET" && req.url === "/v1/models") {
    const isRefused = req.headers.authorization === `Bearer ${REFUSED_API_KEY}`;
    res.writeHead(isRefused ? 401 : 200, { "content-type": "application/json" });
    res.end(
      JSON.stringify(
        isRefused
          ? { error: { message: "Incorrect API key provided" } }
          : {
              object: "list",
              data: [
                { id: "gpt-4o-mini", object: "model" },
                { id: "stand-in", object: "model" },
              ],
            },
      ),
    );
    return;
  }
  if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not found" } }));
    return;
  }
  const body = await readJson(req);
  const recorded: RecordedRequest = {
    model: String(body.model),
    stream: body.stream === true,
    body,
    messages: (body.messages ?? []) as Array<Record<string, unknown>>,
    tools: ((body.tools ?? []) as Array<{ function: { name: string } }>).map((t) => t.function.name),
    headers: req.headers,
  };
  const step = script.next(recorded);
  await answer(step, res, { rec: recorded, body });
}

async function answer(
  step: Step,
  res: ServerResponse,
  { rec, body }: { rec: RecordedRequest; body: Record<string, unknown> },
): Promise<void> {
  const id = `chatcmpl-${Math.random().toString(36).slice(2)}`;
  const base = { id, created: Math.floor(Date.now() / 1000), model: rec.model };
  if (step.kind === "error") {
    res.writeHead(step.status, { "content-type": "application/json", ...step.headers });
    res.end(
      JSON.stringify({ error: { message: step.message ?? `scripted ${step.status}`, type: "scripted", code: null } }),
    );
    return;
  }
  if (step.kind === "fn") throw new Error("nested fn steps are not supported");
  if ("delayMs" in step && step.delayMs !== undefined) await delay(step.delayMs);
  const text = step.kind === "text" ? step.text : step.kind === "tools" ? (step.text ?? "") : (step.text ?? "");
  const toolCalls =
    step.kind === "tools"
      ? step.calls.map((c, i) => ({
          id: `call_${i}_${Math.random().toString(36).slice(2, 8)}`,
          type: "function" as const,
          function: {
            name: c.name,
            arguments: typeof c.arguments === "string" ? c.arguments : JSON.stringify(c.arguments),
          },
        }))
      : [];
  const usage =
    step.kind === "text" && step.usage !== undefined
      ? {
          prompt_tokens: step.usage.input,
          completion_tokens: step.usage.output,
          total_tokens: step.usage.input + step.usage.output,
        }
      : {
          prompt_tokens: 10,
          completion_tokens: Math.max(1, Math.ceil(text.length / 4)),
          total_tokens: 10 + Math.max(1, Math.ceil(text.length / 4)),
        };
  const finish = toolCalls.length > 0 ? "tool_calls" : "stop";
  if (!rec.stream) {
    if (step.kind === "hang") return; // never answers; the client times out
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        ...base,
        object: "chat.completion",
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: toolCalls.length > 0 && text === "" ? null : text,
              ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
            },
            finish_reason: finish,
            logprobs: null,
          },
        ],
        usage,
      }),
    );
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const send = (chunkBody: Record<string, unknown>) =>
    res.write(`data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", ...chunkBody })}\n\n`);
  send({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
  if (step.kind === "hang") {
    if (step.text !== undefined) send({ choices: [{ index: 0, delta: { content: step.text }, finish_reason: null }] });
    return; // leave the stream open
  }
  const pieces = step.kind === "text" && step.chunks !== undefined ? step.chunks : text === "" ? [] : chunk(text, 3);
  const gapMs = step.kind === "text" ? (step.gapMs ?? 0) : 0;
  for (const [i, piece] of pieces.entries()) {
    if (gapMs > 0 && i > 0) await delay(gapMs);
    send({ choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
  }
  toolCalls.forEach((c, index) => {
    // Name and id first, then the arguments in two fragments, as real servers do.
    send({
      choices: [
        {
          index: 0,
          delta: {
            tool_calls: [{ index, id: c.id, type: "function", function: { name: c.function.name, arguments: "" } }],
          },
          finish_reason: null,
        },
      ],
    });
    const half = Math.ceil(c.function.arguments.length / 2);
    for (const frag of [c.function.arguments.slice(0, half), c.function.arguments.slice(half)]) {
      send({
        choices: [{ index: 0, delta: { tool_calls: [{ index, function: { arguments: frag } }] }, finish_reason: null }],
      });
    }
  });
  send({ choices: [{ index: 0, delta: {}, finish_reason: finish }] });
  const options = body.stream_options as { include_usage?: boolean } | undefined;
  if (options?.include_usage === true) send({ choices: [], usage });
  res.end("data: [DONE]\n\n");
}
