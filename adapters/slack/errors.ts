/**
 * The one place Slack failures become Switchboard errors: Web API platform errors (`{ok: false, error}`), rate
 * limits (429 with Retry-After), HTTP and network failures, and `response_url` failures.
 */
import { SwitchboardError, isSwitchboardError } from "../../bot/index.ts";

/** A `response_url` POST that Slack refused. */
export class ResponseUrlError extends Error {
  readonly status: number;
  readonly retryAfterMs: number | undefined;

  constructor(status: number, retryAfterMs: number | undefined, body: string) {
    super(`response_url answered ${status}: ${body.slice(0, 200)}`);
    this.name = "ResponseUrlError";
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

interface SlackLikeError {
  code?: unknown;
  retryAfter?: unknown;
  data?: { error?: unknown };
  statusCode?: unknown;
}

/** The Web API error string (`channel_not_found`, …) of a platform error, if it is one. */
export function slackErrorCode(error: unknown): string | undefined {
  const e = error as SlackLikeError | null;
  if (e === null || typeof e !== "object") return undefined;
  return e.code === "slack_webapi_platform_error" && typeof e.data?.error === "string" ? e.data.error : undefined;
}

/** How long a failure asks us to wait before trying again, in ms; undefined when it is not a rate limit. */
export function retryAfterMsOf(error: unknown): number | undefined {
  if (error instanceof ResponseUrlError) return error.status === 429 ? (error.retryAfterMs ?? 1_000) : undefined;
  const e = error as SlackLikeError | null;
  if (e === null || typeof e !== "object") return undefined;
  if (e.code === "slack_webapi_rate_limited_error" && typeof e.retryAfter === "number") return e.retryAfter * 1_000;
  if (slackErrorCode(error) === "ratelimited") return 1_000;
  return undefined;
}

/** Codes meaning the bot cannot post in the channel (not a member, or it is archived). */
const NOT_POSTABLE = new Set(["not_in_channel", "channel_not_found", "is_archived", "restricted_action"]);

/** True when the failure means "the bot cannot post here", so a `response_url` may be used instead. */
export function isNotPostable(error: unknown): boolean {
  const code = isSwitchboardError(error) ? (error.details.slackError as string | undefined) : slackErrorCode(error);
  return code !== undefined && NOT_POSTABLE.has(code);
}

/** Map any Slack failure (from `method`) to a `SwitchboardError` with a chat-safe message. */
export function mapSlackError(error: unknown, method: string): SwitchboardError {
  if (isSwitchboardError(error)) return error;
  const details = { platform: "slack", method };
  const code = slackErrorCode(error);
  if (code !== undefined) {
    const options = { cause: error, details: { ...details, slackError: code } };
    switch (code) {
      case "msg_too_long":
      case "msg_blocks_too_long":
        return new SwitchboardError("E_MESSAGE_TOO_LONG", `slack ${method}: ${code}`, options);
      case "channel_not_found":
      case "message_not_found":
      case "user_not_found":
        return new SwitchboardError("E_NOT_FOUND", `slack ${method}: ${code}`, options);
      case "not_in_channel":
        return new SwitchboardError("E_ADAPTER", `slack ${method}: ${code}`, {
          ...options,
          chatMessage: "I'm not a member of that channel; invite me first.",
        });
      case "ratelimited":
        return new SwitchboardError("E_RATE_LIMITED", `slack ${method}: ${code}`, options);
      default:
        return new SwitchboardError("E_ADAPTER", `slack ${method}: ${code}`, options);
    }
  }
  if (retryAfterMsOf(error) !== undefined) {
    return new SwitchboardError("E_RATE_LIMITED", `slack ${method}: still rate limited after retries`, {
      cause: error,
      details,
    });
  }
  const e = error as SlackLikeError | null;
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return new SwitchboardError("E_TIMEOUT", `slack ${method}: ${error.message}`, { cause: error, details });
  }
  if (e !== null && typeof e === "object" && e.code === "slack_webapi_http_error") {
    return new SwitchboardError("E_ADAPTER", `slack ${method}: HTTP ${String(e.statusCode)}`, {
      cause: error,
      details,
    });
  }
  if (error instanceof ResponseUrlError) {
    return new SwitchboardError("E_ADAPTER", `slack ${method}: ${error.message}`, { cause: error, details });
  }
  return new SwitchboardError(
    "E_ADAPTER",
    `slack ${method}: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error, details },
  );
}
