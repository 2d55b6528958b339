/**
 * Load the configuration: defaults, then a file (`switchboard.config.yaml`/`.yml`/`.json`, or the path in
 * `SWITCHBOARD_CONFIG`), then environment overrides. An invalid config throws `ConfigError`, whose message
 * names each key, what was wrong, where it came from and an example of a right value.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createRequire } from "node:module";
import type { z } from "zod";
import { configSchema, type Config } from "./schema.ts";
import { envOverrides, type EnvOverride } from "./env.ts";
import { exampleFor } from "./examples.ts";

// yaml (about 70 modules) loads when YAML is read or written, not with every start.
const parseYaml = (text: string): unknown =>
  (createRequire(import.meta.url)("yaml") as typeof import("yaml")).parse(text);

/** Files looked for in the working directory, in order. */
export const CONFIG_FILES = ["switchboard.config.yaml", "switchboard.config.yml", "switchboard.config.json"];

/** Thrown for an invalid or unreadable configuration. */
export class ConfigError extends Error {
  readonly code = "E_CONFIG_INVALID";
  readonly issues: ConfigIssue[];
  constructor(message: string, issues: ConfigIssue[] = []) {
    super(message);
    this.name = "ConfigError";
    this.issues = issues;
  }
}

/** One problem: the dotted key, what is wrong, where the value came from and an example of a right one. */
export interface ConfigIssue {
  key: string;
  problem: string;
  source: string;
  example: string | undefined;
}

export interface LoadOptions {
  /** Working directory for relative paths (default `process.cwd()`). */
  cwd?: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** An explicit file; otherwise `SWITCHBOARD_CONFIG`, then `CONFIG_FILES`. */
  file?: string;
  /** Values applied last (tests, CLI flags). */
  overrides?: Record<string, unknown>;
}

/** Where the loaded config came from, for `doctor`. */
export interface LoadedConfig {
  config: Config;
  file: string | undefined;
  fromEnv: EnvOverride[];
}

/** Load, merge and validate. Throws `ConfigError`. */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const file = findFile(cwd, options.file ?? env.SWITCHBOARD_CONFIG);
  const raw: Record<string, unknown> = file === undefined ? {} : readFile(file);
  const sources = new Map<string, string>();
  if (file !== undefined) markSources(raw, "", { source: `file ${file}`, into: sources });
  const fromEnv = envOverrides(env);
  for (const o of fromEnv) {
    setPath(raw, o.path, o.value);
    sources.set(o.path, `environment ${o.variable}`);
  }
  if (options.overrides !== undefined) {
    for (const [path, value] of Object.entries(options.overrides)) {
      setPath(raw, path, value);
      sources.set(path, "overrides");
    }
  }
  const result = configSchema.safeParse(withDefaults(DEFAULTS(), raw));
  if (!result.success) throw configErrorFrom(result.error, sources);
  const config = result.data;
  config.bot.dataDir = resolve(cwd, config.bot.dataDir);
  return { config, file, fromEnv };
}

/** Validate an object as config (no file, no env). Throws `ConfigError`. */
export function parseConfig(input: unknown): Config {
  const result = configSchema.safeParse(withDefaults(DEFAULTS(), input ?? {}));
  if (!result.success) throw configErrorFrom(result.error, new Map());
  return result.data;
}

/** The defaults, as a fresh object each time. */
const DEFAULTS = (): unknown => configSchema.parse({});

/**
 * Lay `raw` over the defaults, level by level, so a partial section (`limits.perUser.burst` alone) keeps the
 * defaults of its siblings. Arrays and scalars replace; prototype keys are refused.
 */
function withDefaults(defaults: unknown, raw: unknown): unknown {
  if (!isPlainObject(defaults) || !isPlainObject(raw)) return raw;
  const out: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(raw)) {
    if (key === "__proto__" || key === "constructor" || key === "prototype")
      throw new ConfigError(`Refusing config key ${key}.`);
    out[key] = Object.hasOwn(defaults, key) ? withDefaults(defaults[key], value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function findFile(cwd: string, explicit: string | undefined): string | undefined {
  if (explicit !== undefined && explicit !== "") {
    const path = resolve(cwd, explicit);
    if (!existsSync(path))
      throw new ConfigError(`Config file not found: ${path} (from SWITCHBOARD_CONFIG or --config).`);
    return path;
  }
  for (const name of CONFIG_FILES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

function readFile(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    const text = readFileSync(path, "utf8");
    parsed = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError(`Cannot read config file ${path}: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError(`Config file ${path} must hold a mapping of sections (bot:, http:, adapters:, …).`);
  }
  return parsed as Record<string, unknown>;
}

function markSources(value: unknown, prefix: string, at: { source: string; into: Map<string, string> }): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    at.into.set(prefix, at.source);
    return;
  }
  for (const [k, v] of Object.entries(value)) markSources(v, prefix === "" ? k : `${prefix}.${k}`, at);
}

/** Set `a.b.c` in a plain object, creating levels. Refuses prototype keys. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let node: Record<string, unknown> = target;
  for (const [i, part] of parts.entries()) {
    if (part === "__proto__" || part === "constructor" || part === "prototype") {
      throw new ConfigError(`Refusing config key ${path}.`);
    }
    if (i === parts.length - 1) {
      node[part] = value;
      return;
    }
    const next = node[part];
    if (next === null || typeof next !== "object" || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
}

function configErrorFrom(error: z.ZodError, sources: Map<string, string>): ConfigError {
  const issues: ConfigIssue[] = error.issues.flatMap((issue): ConfigIssue[] => {
    const key = issue.path.map(String).join(".") || "(root)";
    if (issue.code === "unrecognized_keys") {
      // One issue per unknown key, each with where that key was written (the file, or a variable).
      return issue.keys.map((unknown) => {
        const full = key === "(root)" ? unknown : `${key}.${unknown}`;
        return { key: full, problem: "unknown key", source: sourceOf(full, sources), example: undefined };
      });
    }
    return [{ key, problem: issue.message, source: sourceOf(key, sources), example: exampleFor(key) }];
  });
  const lines = issues.map(
    (i) =>
      `  - ${i.key}: ${i.problem} (from ${i.source})${i.example === undefined ? "" : `. Example: ${i.key}: ${i.example}`}`,
  );
  return new ConfigError(`Invalid configuration:\n${lines.join("\n")}`, issues);
}

function sourceOf(key: string, sources: Map<string, string>): string {
  for (let k = key; k !== ""; k = k.includes(".") ? k.slice(0, k.lastIndexOf(".")) : "") {
    const s = sources.get(k);
    if (s !== undefined) return s;
  }
  // A key that holds a mapping (an unknown section) is recorded by its leaves.
  for (const [k, s] of sources) if (k.startsWith(`${key}.`)) return s;
  return "defaults";
}
