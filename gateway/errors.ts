/**
 * Errors in OpenAI's shape (`{ error: { message, type, param, code } }`) and status codes, so the clients that
 * speak to OpenAI read them: 400 naming the field, 401 bad key, 403 model not allowed, 404 unknown model, 429
 * with `Retry-After`, 502/503 naming each upstream model and why it failed. Messages never carry a key.
 */
import type { ApiAnswer, RouteErrorInfo } from "../bot/index.ts";

/** OpenAI's error `type` values used here. */
export type OpenAiErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "insufficient_quota"
  | "upstream_error"
  | "server_error";

/** An error answered to a gateway client. */
export class GatewayError extends Error {
  readonly status: number;
  readonly type: OpenAiErrorType;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    message: string,
    options: { type: OpenAiErrorType; param?: string; code?: string; headers?: Record<string, string> },
  ) {
    super(message);
    this.name = "GatewayError";
    this.status = status;
    this.type = options.type;
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
  }

  /** The JSON body. */
  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  /** The whole answer: status, headers (`Retry-After`), body. */
  answer(): ApiAnswer {
    return { status: this.status, headers: this.headers, body: this.body() };
  }
}

/** A 400 naming the field at fault. */
export function badRequest(message: string, param: string, code?: string): GatewayError {
  return new GatewayError(400, message, { type: "invalid_request_error", param, ...(code ? { code } : {}) });
}

/**
 * The listener's errors for gateway routes (validation, unparsable JSON) in OpenAI's shape. A validation path
 * `body.messages.0.role` becomes the param `messages[0].role`.
 */
export function openAiErrorBody(info: RouteErrorInfo): unknown {
  const param = info.field === undefined ? null : paramOf(info.field);
  const unknownKey = /Unrecognized key(?:\(s\))?(?: in object)?:? "?'?([A-Za-z0-9_]+)/.exec(info.message)?.[1];
  const message =
    unknownKey !== undefined
      ? `Unrecognized request argument supplied: ${unknownKey}`
      : `Invalid request: ${info.message.replace(/\bbody\./g, "")}`;
  const type: OpenAiErrorType =
    info.status === 401
      ? "authentication_error"
      : info.status === 403
        ? "permission_error"
        : info.status === 429
          ? "rate_limit_error"
          : info.status >= 500
            ? "server_error"
            : "invalid_request_error";
  return {
    error: {
      message,
      type,
      param: unknownKey ?? param,
      code: info.status === 400 ? (unknownKey !== undefined ? "unknown_parameter" : "invalid_value") : null,
    },
  };
}

function paramOf(field: string): string {
  return field
    .replace(/^body\.?/, "")
    .replace(/\.(\d+)(?=\.|$)/g, "[$1]")
    .replace(/^\[/, "[");
}
