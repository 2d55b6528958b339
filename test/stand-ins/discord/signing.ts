/**
 * Ed25519 signing for HTTP interactions, as Discord does it: a fresh key pair per test, the public key as the
 * 64-hex-character string the application settings show, and signed request headers for a body.
 */
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";

/** A Discord application's interaction signing keys. */
export interface InteractionSigner {
  /** The public key as 64 hex characters (what `adapters.discord.publicKey` takes). */
  publicKeyHex: string;
  /** Headers for a body, signed with this key (or with `timestamp` given). */
  headers(rawBody: string, timestamp?: string): Record<string, string>;
}

/** Generate a key pair and a signer. */
export function createInteractionSigner(): InteractionSigner {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const spki = publicKey.export({ format: "der", type: "spki" });
  const publicKeyHex = spki.subarray(spki.length - 32).toString("hex");
  return {
    publicKeyHex,
    headers: (rawBody, timestamp = String(Math.floor(Date.now() / 1000))) =>
      signedHeaders(privateKey, rawBody, timestamp),
  };
}

function signedHeaders(privateKey: KeyObject, rawBody: string, timestamp: string): Record<string, string> {
  const signature = sign(null, Buffer.from(timestamp + rawBody), privateKey).toString("hex");
  return { "content-type": "application/json", "x-signature-ed25519": signature, "x-signature-timestamp": timestamp };
}
