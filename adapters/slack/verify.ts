/**
 * Slack request signing: `X-Slack-Signature: v0=<hex HMAC-SHA256(signingSecret, "v0:<timestamp>:<raw body>")>`
 * with `X-Slack-Request-Timestamp`. A missing header, a bad signature, or a timestamp more than five minutes
 * away from now (a replay) fails.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** How far a request's timestamp may be from now, in seconds (Slack's own replay window). */
export const SLACK_REPLAY_WINDOW_S = 300;

/** The outcome of a signature check; `reason` goes to the log, never to the caller. */
export type SignatureCheck =
  | { ok: true }
  | { ok: false; reason: "missing headers" | "stale timestamp" | "bad signature" };

/** Options for `verifySlackSignature`. */
export interface VerifyOptions {
  signingSecret: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer | string;
  /** Now, in epoch ms (injected so tests control the clock). */
  nowMs: number;
  windowS?: number;
}

/** Check a request's Slack signature and replay window, in constant time. */
export function verifySlackSignature(options: VerifyOptions): SignatureCheck {
  const signature = header(options.headers, "x-slack-signature");
  const timestamp = header(options.headers, "x-slack-request-timestamp");
  if (signature === undefined || timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) {
    return { ok: false, reason: "missing headers" };
  }
  const ageS = Math.abs(Math.floor(options.nowMs / 1000) - Number(timestamp));
  if (ageS > (options.windowS ?? SLACK_REPLAY_WINDOW_S)) return { ok: false, reason: "stale timestamp" };
  const expected = Buffer.from(signSlackRequest(options.signingSecret, timestamp, options.rawBody), "utf8");
  const given = Buffer.from(signature, "utf8");
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: "bad signature" };
  return { ok: true };
}

/** The `v0=` signature for a body at a timestamp (seconds). */
export function signSlackRequest(signingSecret: string, timestamp: string | number, rawBody: Buffer | string): string {
  const hmac = createHmac("sha256", signingSecret);
  hmac.update(`v0:${timestamp}:`);
  hmac.update(rawBody);
  return `v0=${hmac.digest("hex")}`;
}

function header(headers: VerifyOptions["headers"], name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === "" ? undefined : first;
}
