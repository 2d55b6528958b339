/**
 * Who may post to a hook, per template: GitHub signs the body (`X-Hub-Signature-256: sha256=<hex>`); the others
 * send the secret as a bearer token, or sign `<timestamp>.<body>` (`X-Switchboard-Timestamp` in Unix seconds,
 * `X-Switchboard-Signature: sha256=<hex>`) within the replay window. Comparisons are constant-time.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { TemplateName } from "./store.ts";

/** The headers a timestamped signature uses (also what the workflow trigger sends). */
export const TIMESTAMP_HEADER = "x-switchboard-timestamp";
export const SIGNATURE_HEADER = "x-switchboard-signature";

type Headers = Record<string, string | string[] | undefined>;

/** One header's value (the first, when repeated). */
export function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `sha256=<hex>` of HMAC-SHA256 over `data`. */
export function hmacHex(secret: string, data: string | Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(data).digest("hex")}`;
}

/** Sign a body for the timestamped scheme: the two headers to send. */
export function signTimestamped(secret: string, body: string, nowMs: number): Record<string, string> {
  const ts = String(Math.floor(nowMs / 1000));
  return { [TIMESTAMP_HEADER]: ts, [SIGNATURE_HEADER]: hmacHex(secret, `${ts}.${body}`) };
}

function same(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y) && a.length === b.length;
}

/** Why a request was refused (logged, never answered in detail). */
export type VerifyFailure = "no-credentials" | "bad-signature" | "stale-timestamp" | "bad-token";

/** Verify a request to a hook; undefined when it passes. */
export function verifyRequest(o: {
  template: TemplateName;
  secret: string;
  headers: Headers;
  body: Buffer;
  nowMs: number;
  replayWindowMs: number;
}): VerifyFailure | undefined {
  if (o.template === "github") {
    const signature = header(o.headers, "x-hub-signature-256");
    if (signature === undefined) return "no-credentials";
    return same(signature, hmacHex(o.secret, o.body)) ? undefined : "bad-signature";
  }
  const signature = header(o.headers, SIGNATURE_HEADER);
  if (signature !== undefined) {
    const ts = header(o.headers, TIMESTAMP_HEADER) ?? "";
    if (!/^\d{1,12}$/.test(ts)) return "stale-timestamp";
    if (Math.abs(o.nowMs - Number(ts) * 1000) > o.replayWindowMs) return "stale-timestamp";
    const signed = Buffer.concat([Buffer.from(`${ts}.`), o.body]);
    return same(signature, hmacHex(o.secret, signed)) ? undefined : "bad-signature";
  }
  const auth = header(o.headers, "authorization");
  if (auth === undefined) return "no-credentials";
  const token = /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim();
  if (token === undefined) return "no-credentials";
  return same(token, o.secret) ? undefined : "bad-token";
}

/**
 * The delivery's id, the dedupe key: GitHub's `X-GitHub-Delivery`; an Alertmanager group's key, status and the
 * times of its alerts; otherwise `Idempotency-Key` or `X-Delivery-Id`, else a hash of the body (with the
 * timestamp when signed with one).
 */
export function deliveryIdOf(o: { template: TemplateName; headers: Headers; body: Buffer; payload: unknown }): string {
  const hash = (data: string | Buffer) => createHash("sha256").update(data).digest("base64url").slice(0, 32);
  const given = header(o.headers, "idempotency-key") ?? header(o.headers, "x-delivery-id");
  if (o.template === "github") {
    const id = header(o.headers, "x-github-delivery");
    if (id !== undefined && id.length > 0) return `gh:${id.slice(0, 128)}`;
  }
  if (given !== undefined && given.length > 0) return `id:${given.slice(0, 128)}`;
  if (o.template === "alertmanager" && isRecord(o.payload) && typeof o.payload.groupKey === "string") {
    const alerts = Array.isArray(o.payload.alerts) ? o.payload.alerts : [];
    const times = alerts
      .filter(isRecord)
      .map(
        (a) =>
          `${String(a.fingerprint ?? "")}:${String(a.status ?? "")}:${String(a.startsAt ?? "")}:${String(a.endsAt ?? "")}`,
      )
      .sort()
      .join(",");
    return `am:${hash(`${o.payload.groupKey}\n${String(o.payload.status ?? "")}\n${times}`)}`;
  }
  const ts = header(o.headers, TIMESTAMP_HEADER);
  return `body:${hash(ts === undefined ? o.body : Buffer.concat([Buffer.from(`${ts}.`), o.body]))}`;
}

/** A plain object (not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
