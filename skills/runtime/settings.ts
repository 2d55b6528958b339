/**
 * Per-chat skill settings in the durable key-value store (`skills.settings`, scope = chat, key = skill).
 * Values are checked against the manifest's settings schema; secret fields are sealed (AES-256-GCM) before they
 * are written, shown masked, and opened only for the skill's own `settings.get` capability.
 */
import { SwitchboardError, type KvRepo } from "../../bot/index.ts";
import type { SkillManifest } from "../manifest.ts";
import { createSecretBox, type SecretBox } from "./secrets.ts";

const NAMESPACE = "skills.settings";

/** What a secret shows as outside the skill. */
export const MASK = "••••••";

type Stored = Record<string, { secret?: false; value: string | number | boolean } | { secret: true; sealed: string }>;

/** Skill settings, one record per (chat, skill). */
export class SettingsStore {
  readonly #kv: KvRepo;
  readonly #secretKey: () => Buffer;
  #sealer: SecretBox | undefined;

  /** `secretKey` is read on first use (it may create the key file in the data folder). */
  constructor(kv: KvRepo, secretKey: () => Buffer) {
    this.#kv = kv;
    this.#secretKey = secretKey;
  }

  get #box(): SecretBox {
    this.#sealer ??= createSecretBox(this.#secretKey());
    return this.#sealer;
  }

  /** Validate and store one setting; returns true when it was a secret. */
  async set(
    chatKey: string,
    skill: { name: string; manifest: SkillManifest },
    { key, value }: { key: string; value: unknown },
  ): Promise<boolean> {
    const schema = skill.manifest.settings;
    const field = schema !== undefined && Object.hasOwn(schema.properties, key) ? schema.properties[key] : undefined;
    if (field === undefined) {
      const known =
        schema === undefined ? "it has no settings" : `its settings are ${Object.keys(schema.properties).join(", ")}`;
      throw new SwitchboardError("E_BAD_ARGS", `unknown setting ${skill.name}.${key}`, {
        chatMessage: `The skill ${skill.name} has no setting ${key}; ${known}.`,
      });
    }
    const coerced = coerce(value, field.type);
    if (coerced === undefined) {
      throw new SwitchboardError("E_BAD_ARGS", `bad value for ${skill.name}.${key}`, {
        chatMessage: `The setting ${key} must be a ${field.type}.`,
      });
    }
    if (field.enum !== undefined && !field.enum.includes(coerced as string | number)) {
      throw new SwitchboardError("E_BAD_ARGS", `value not allowed for ${skill.name}.${key}`, {
        chatMessage: `The setting ${key} must be one of ${field.enum.join(", ")}.`,
      });
    }
    if (typeof coerced === "string" && coerced.length > (field.maxLength ?? 2_000)) {
      throw new SwitchboardError("E_BAD_ARGS", `value too long for ${skill.name}.${key}`, {
        chatMessage: `The setting ${key} is too long.`,
      });
    }
    const stored = (await this.#kv.get<Stored>(NAMESPACE, chatKey, skill.name)) ?? {};
    const next: Stored = { ...stored };
    next[key] = field.secret === true ? { secret: true, sealed: this.#box.seal(String(coerced)) } : { value: coerced };
    await this.#kv.set(NAMESPACE, chatKey, { key: skill.name, value: next });
    return field.secret === true;
  }

  /** The chat's settings with defaults; secrets masked unless `reveal`. */
  async get(
    chatKey: string,
    skill: { name: string; manifest: SkillManifest },
    reveal: boolean,
  ): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    const schema = skill.manifest.settings;
    if (schema === undefined) return out;
    const stored = (await this.#kv.get<Stored>(NAMESPACE, chatKey, skill.name)) ?? {};
    for (const [key, field] of Object.entries(schema.properties)) {
      const entry = Object.hasOwn(stored, key) ? stored[key] : undefined;
      if (entry === undefined) {
        if (field.default !== undefined) out[key] = field.default;
        continue;
      }
      if (entry.secret === true) out[key] = reveal ? this.#box.open(entry.sealed) : MASK;
      else out[key] = entry.value;
    }
    return out;
  }
}

function coerce(
  value: unknown,
  type: "string" | "number" | "integer" | "boolean",
): string | number | boolean | undefined {
  switch (type) {
    case "string":
      return typeof value === "string"
        ? value
        : typeof value === "number" || typeof value === "boolean"
          ? String(value)
          : undefined;
    case "number": {
      const n =
        typeof value === "number"
          ? value
          : typeof value === "string" && value.trim() !== ""
            ? Number(value)
            : Number.NaN;
      return Number.isFinite(n) ? n : undefined;
    }
    case "integer": {
      const n =
        typeof value === "number"
          ? value
          : typeof value === "string" && value.trim() !== ""
            ? Number(value)
            : Number.NaN;
      return Number.isInteger(n) ? n : undefined;
    }
    case "boolean":
      if (typeof value === "boolean") return value;
      if (value === "true" || value === "on" || value === "yes") return true;
      if (value === "false" || value === "off" || value === "no") return false;
      return undefined;
  }
}
