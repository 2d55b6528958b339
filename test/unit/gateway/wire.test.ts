/** The OpenAI request's translation: what goes upstream, what is dropped, what is refused and naming which field. */
import { describe, expect, it } from "vitest";
import { GatewayError, openAiErrorBody } from "../../../gateway/errors.ts";
import { completionBody, completionRequestSchema, toModelAsk } from "../../../gateway/wire.ts";

const parse = (body: unknown) => completionRequestSchema.parse(body);
const refusal = (body: unknown): GatewayError => {
  try {
    toModelAsk(parse(body));
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error("not refused");
};

describe("toModelAsk", () => {
  it("turns developer into system, joins text parts, keeps tool calls and names their results", () => {
    const ask = toModelAsk(
      parse({
        model: "m",
        messages: [
          { role: "developer", content: "rules" },
          {
            role: "user",
            content: [
              { type: "text", text: "a" },
              { type: "text", text: "b" },
            ],
            name: "ann",
          },
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }],
          },
          { role: "tool", tool_call_id: "c1", content: "42" },
        ],
        max_completion_tokens: 9,
        stop: "END",
        tool_choice: { type: "function", function: { name: "f" } },
        tools: [{ type: "function", function: { name: "f" } }],
        response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" }, strict: true } },
        seed: 1,
        user: "someone",
      }),
    );
    expect(ask.messages).toEqual([
      { role: "system", content: "rules" },
      { role: "user", content: "ab", name: "ann" },
      { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "f", arguments: "{}" }] },
      { role: "tool", content: "42", toolCallId: "c1", toolName: "f" },
    ]);
    expect(ask).toMatchObject({
      maxTokens: 9,
      stop: ["END"],
      toolChoice: { name: "f" },
      responseFormat: { type: "json_schema", name: "x", schema: { type: "object" }, strict: true },
      tools: [{ name: "f", description: "", parameters: { type: "object", properties: {} } }],
    });
    expect(ask).not.toHaveProperty("seed");
  });

  it("refuses what it cannot answer, naming the field", () => {
    const base = { model: "m", messages: [{ role: "user", content: "x" }] };
    expect(refusal({ ...base, n: 3 }).param).toBe("n");
    expect(refusal({ ...base, logprobs: true }).param).toBe("logprobs");
    expect(refusal({ ...base, stream_options: { include_usage: true } }).param).toBe("stream_options");
    expect(refusal({ ...base, modalities: ["text", "audio"] }).param).toBe("modalities");
    expect(refusal({ ...base, tool_choice: { type: "function", function: { name: "g" } }, tools: [] }).param).toBe(
      "tool_choice",
    );
    const e = refusal({
      model: "m",
      messages: [{ role: "user", content: [{ type: "input_audio", input_audio: {} }] }],
    });
    expect(e.status).toBe(400);
    expect(e.param).toBe("messages[0].content[0]");
    expect(e.body().error.type).toBe("invalid_request_error");
  });

  it("refuses unknown parameters in the schema", () => {
    expect(
      completionRequestSchema.safeParse({ model: "m", messages: [{ role: "user", content: "x" }], best_of: 2 }).success,
    ).toBe(false);
  });
});

describe("openAiErrorBody", () => {
  it("turns a validation path into OpenAI's param and an unknown key into its own message", () => {
    expect(
      openAiErrorBody({
        status: 400,
        code: "E_BAD_ARGS",
        message: "body.messages.0.role: Invalid input",
        field: "body.messages.0.role",
      }),
    ).toEqual({
      error: {
        message: "Invalid request: messages.0.role: Invalid input",
        type: "invalid_request_error",
        param: "messages[0].role",
        code: "invalid_value",
      },
    });
    const unknown = openAiErrorBody({
      status: 400,
      code: "E_BAD_ARGS",
      message: 'body: Unrecognized key: "best_of"',
      field: "body",
    }) as {
      error: { message: string; param: string; code: string };
    };
    expect(unknown.error).toMatchObject({
      message: "Unrecognized request argument supplied: best_of",
      param: "best_of",
      code: "unknown_parameter",
    });
  });
});

describe("completionBody", () => {
  it("answers null content beside tool calls, and finish_reason tool_calls", () => {
    const body = completionBody({
      id: "chatcmpl-1",
      created: 1,
      model: "m",
      result: { text: "", toolCalls: [{ id: "c", name: "f", arguments: "{}" }], finishReason: "stop" },
      usage: { inputTokens: 2, outputTokens: 3 },
    }) as { choices: Array<{ message: { content: unknown }; finish_reason: string }>; usage: unknown };
    expect(body.choices[0]!.message.content).toBeNull();
    expect(body.choices[0]!.finish_reason).toBe("tool_calls");
    expect(body.usage).toEqual({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
  });
});
