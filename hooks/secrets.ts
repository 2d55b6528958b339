/**
 * Hook and workflow secrets at rest: AES-256-GCM under one key (`hooks.secretKey`). GitHub signs with the raw
 * secret, so a hash would not do: the secret must come back to check `X-Hub-Signature-256`. Without a configured
 * key the embedded store keeps a generated one beside its data (`<dataDir>/hooks.key`, mode 0600).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SwitchboardError } from "../bot/index.ts";

/** Encrypts and decrypts secrets; `v1.<iv>.<tag>.<ciphertext>` in base64url. */
export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

/** A 32-byte key from 64 hex characters or base64. */
export function parseKey(text: string): Buffer {
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, "hex") : Buffer.from(text, "base64");
  if (key.length !== 32)
    throw new SwitchboardError("E_CONFIG_INVALID", "hooks.secretKey must be 32 bytes: 64 hex characters or base64");
  return key;
}

/**
 * The box for this deployment: the configured key, or (embedded store only) the one kept in the data folder,
 * created on first use. With PostgreSQL and no key, every use throws a config error naming the key to set.
 */
export function secretBox(o: { secretKey: string | undefined; dataDir: string; isShared: boolean }): SecretBox {
  let key: Buffer | undefined = o.secretKey === undefined ? undefined : parseKey(o.secretKey);
  const keyOf = (): Buffer => {
    if (key !== undefined) return key;
    if (o.isShared)
      throw new SwitchboardError("E_CONFIG_INVALID", "hooks.secretKey is required with PostgreSQL", {
        chatMessage: "Hooks need hooks.secretKey (SWITCHBOARD_HOOKS__SECRET_KEY) set on every bot process.",
      });
    const file = join(o.dataDir, "hooks.key");
    if (!existsSync(file)) {
      mkdirSync(o.dataDir, { recursive: true });
      writeFileSync(file, randomBytes(32).toString("hex"), { mode: 0o600, flag: "wx" });
    }
    key = parseKey(readFileSync(file, "utf8").trim());
    return key;
  };
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", keyOf(), iv);
      const data = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
      return ["v1", iv, cipher.getAuthTag(), data]
        .map((p) => (typeof p === "string" ? p : p.toString("base64url")))
        .join(".");
    },
    open(sealed) {
      const [version, iv, tag, data] = sealed.split(".");
      if (version !== "v1" || iv === undefined || tag === undefined || data === undefined)
        throw new SwitchboardError("E_INTERNAL", "a stored hook secret is not in the v1 format");
      const decipher = createDecipheriv("aes-256-gcm", keyOf(), Buffer.from(iv, "base64url"));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString("utf8");
    },
  };
}

/** A new secret: 32 random bytes, base64url. */
export function newSecret(): string {
  return randomBytes(32).toString("base64url");
}
