/**
 * One failed model call, classified for the fallback chain: what kind of failure, the HTTP status, and how long
 * the server asked us to wait (`Retry-After`, or OpenAI's `retry-after-ms`).
 */
import type { FailureKind } from "../types.ts";

/** A classified provider failure. `message` is safe for chat (no keys, no URLs with credentials). */
export class ProviderFailure extends Error {
  readonly kind: FailureKind;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    kind: FailureKind,
    message: string,
    options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ProviderFailure";
    this.kind = kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The failure kind for an HTTP status. */
export function kindOfStatus(status: number): FailureKind {
  if (status === 429) return "rate_limit";
  if (status === 408) return "timeout";
  if (status === 401 || status === 403) return "auth";
  if (status >= 500) return "server";
  return "bad_request";
}

/**
 * Milliseconds to wait from response headers: `retry-after-ms`, else `retry-after` as seconds or an HTTP date.
 * Undefined when absent or unparsable. `nowMs` is the clock for HTTP dates.
 */
export function retryAfterFrom(get: (name: string) => string | null | undefined, nowMs: number): number | undefined {
  const ms = get("retry-after-ms");
  if (ms !== null && ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const raw = get("retry-after");
  if (raw === null || raw === undefined || raw.trim() === "") return undefined;
  const t = raw.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.ceil(Number(t) * 1000);
  const date = Date.parse(t);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** A short human description of a failure, for the chat: "rate limited (retry in 20 s)". */
export function describeFailure(f: ProviderFailure): string {
  const base = {
    rate_limit: "rate limited",
    server: "server error",
    timeout: "timed out",
    network: "unreachable",
    auth: "refused the credentials",
    bad_request: "rejected the request",
    bad_response: "sent an unreadable answer",
  }[f.kind];
  const status = f.status === undefined || f.kind === "rate_limit" ? "" : ` ${f.status}`;
  const wait = f.retryAfterMs === undefined ? "" : ` (retry in ${Math.max(1, Math.ceil(f.retryAfterMs / 1000))} s)`;
  return `${base}${status}${wait}`;
}
