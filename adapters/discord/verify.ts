/**
 * Ed25519 verification of Discord HTTP interactions: `X-Signature-Ed25519` over `timestamp + rawBody`, checked
 * with node:crypto against the application's public key (64 hex characters).
 */
import { createPublicKey, verify, type KeyObject } from "node:crypto";
import { SwitchboardError } from "../../bot/index.ts";

/** The SPKI DER header that turns a raw 32-byte Ed25519 key into a key node:crypto can load. */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** Load the application's public key. Throws `E_CONFIG_INVALID` when it is not 64 hex characters. */
export function loadPublicKey(publicKeyHex: string): KeyObject {
  if (!/^[0-9a-fA-F]{64}$/.test(publicKeyHex)) {
    throw new SwitchboardError("E_CONFIG_INVALID", "adapters.discord.publicKey must be 64 hex characters");
  }
  return createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(publicKeyHex, "hex")]),
    format: "der",
    type: "spki",
  });
}

/** The first value of a header that may be repeated. */
function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * True when the request carries a valid signature for this body. A missing header, a signature that is not
 * 64 bytes of hex, or a mismatch all answer false (never throw).
 */
export function isValidSignature(
  publicKey: KeyObject,
  headers: Record<string, string | string[] | undefined>,
  rawBody: Buffer,
): boolean {
  const signature = headerValue(headers["x-signature-ed25519"]);
  const timestamp = headerValue(headers["x-signature-timestamp"]);
  if (signature === undefined || timestamp === undefined || !/^[0-9a-fA-F]{128}$/.test(signature)) return false;
  try {
    return verify(
      null,
      Buffer.concat([Buffer.from(timestamp, "utf8"), rawBody]),
      publicKey,
      Buffer.from(signature, "hex"),
    );
  } catch {
    return false;
  }
}

/** How far an interaction's signed timestamp may be from now, either way, in ms (as Slack's replay window). */
export const INTERACTION_WINDOW_MS = 5 * 60_000;

/**
 * True when the signed `X-Signature-Timestamp` (seconds since the epoch) is within `INTERACTION_WINDOW_MS` of
 * `nowMs`: a validly signed request recorded and replayed later, or stamped in the future, is refused.
 */
export function isFreshTimestamp(headers: Record<string, string | string[] | undefined>, nowMs: number): boolean {
  const timestamp = headerValue(headers["x-signature-timestamp"]);
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) return false;
  return Math.abs(nowMs - Number(timestamp) * 1000) <= INTERACTION_WINDOW_MS;
}
