import { describe, expect, it } from "vitest";
import { isSwitchboardError } from "../../../../bot/index.ts";
import { isValidSignature, loadPublicKey } from "../../../../adapters/discord/verify.ts";
import { createInteractionSigner } from "../../../stand-ins/discord/signing.ts";

describe("Discord Ed25519 verification", () => {
  const signer = createInteractionSigner();
  const key = loadPublicKey(signer.publicKeyHex);
  const body = JSON.stringify({ id: "1", type: 1 });

  it("accepts a body signed with the application's key", () => {
    expect(isValidSignature(key, signer.headers(body), Buffer.from(body))).toBe(true);
  });

  it("rejects another key, a changed body, a changed timestamp and missing or garbled headers", () => {
    expect(isValidSignature(key, createInteractionSigner().headers(body), Buffer.from(body))).toBe(false);
    expect(isValidSignature(key, signer.headers(body), Buffer.from(`${body} `))).toBe(false);
    const headers = signer.headers(body, "1700000000");
    expect(isValidSignature(key, { ...headers, "x-signature-timestamp": "1700000001" }, Buffer.from(body))).toBe(false);
    expect(isValidSignature(key, {}, Buffer.from(body))).toBe(false);
    expect(isValidSignature(key, { ...headers, "x-signature-ed25519": "zz" }, Buffer.from(body))).toBe(false);
  });

  it("refuses a public key that is not 64 hex characters", () => {
    let error: unknown;
    try {
      loadPublicKey("abc");
    } catch (e) {
      error = e;
    }
    expect(isSwitchboardError(error) && error.code).toBe("E_CONFIG_INVALID");
  });
});
