/**
 * Encryption at rest for secret skill settings: AES-256-GCM with a key from `SWITCHBOARD_SECRET_KEY` (any
 * string; hashed to 32 bytes) or, failing that, a random key kept in `<dataDir>/secret.key` (mode 0600).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SwitchboardError } from "../../bot/index.ts";

/** An encrypted value as stored: `v1:` + base64(iv | tag | ciphertext). */
export type SealedSecret = string;

/** Seals and opens secret values with one key. */
export interface SecretBox {
  seal(plain: string): SealedSecret;
  open(sealed: SealedSecret): string;
}

/** The key: from the environment, else the data folder (created on first use), else an in-memory key. */
export function loadSecretKey(options: {
  dataDir: string | undefined;
  env?: Readonly<Record<string, string | undefined>>;
}): Buffer {
  const fromEnv = (options.env ?? process.env).SWITCHBOARD_SECRET_KEY;
  if (fromEnv !== undefined && fromEnv !== "") return createHash("sha256").update(fromEnv, "utf8").digest();
  if (options.dataDir === undefined || options.dataDir === "") return randomBytes(32);
  const path = join(options.dataDir, "secret.key");
  if (existsSync(path)) {
    const key = Buffer.from(readFileSync(path, "utf8").trim(), "base64");
    if (key.length !== 32) throw new SwitchboardError("E_CONFIG_INVALID", `${path} does not hold a 32-byte base64 key`);
    return key;
  }
  mkdirSync(options.dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(path, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(path, 0o600);
  return key;
}

/** A box over a 32-byte key. */
export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new SwitchboardError("E_CONFIG_INVALID", "secret key must be 32 bytes");
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
      return `v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
    },
    open(sealed) {
      if (!sealed.startsWith("v1:")) throw new SwitchboardError("E_STORAGE", "unknown secret format");
      const raw = Buffer.from(sealed.slice(3), "base64");
      const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      try {
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
      } catch {
        throw new SwitchboardError(
          "E_STORAGE",
          "a secret setting could not be decrypted (was the secret key changed?)",
        );
      }
    },
  };
}
