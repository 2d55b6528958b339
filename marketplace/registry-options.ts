/**
 * Registries configured like npm's: a default registry, per-scope registries and auth tokens keyed by the
 * "nerf-darted" registry (`//host:port/path/`). Sources, later winning: an `.npmrc` file, then the config.
 * The result is the options object pacote and npm-registry-fetch take.
 */
import { readFileSync } from "node:fs";
import { SwitchboardError } from "../bot/index.ts";
import type { MarketplaceConfig } from "./types.ts";

/** What the registry client needs to know, resolved. */
export interface RegistrySettings {
  /** Default registry, with a trailing slash. */
  registry: string;
  /** Scope → registry, each with a trailing slash. */
  scopes: Record<string, string>;
  /** Nerf-darted registry (`//host/`) → token. */
  tokens: Record<string, string>;
}

/** `https://npm.acme.dev/x` → `https://npm.acme.dev/x/`. */
export function withSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}

/** npm's "nerf dart": the registry URL without protocol, query or credentials (`//host:port/path/`). */
export function nerfDart(url: string): string {
  const u = new URL(url);
  return `//${u.host}${withSlash(u.pathname)}`;
}

/** Read the registry lines of an `.npmrc` (`registry=`, `@scope:registry=`, `//host/:_authToken=`). */
export function parseNpmrc(text: string, env: Readonly<Record<string, string | undefined>>): Partial<RegistrySettings> {
  const out: RegistrySettings = { registry: "", scopes: {}, tokens: {} };
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, "$1")
      .replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, name: string) => env[name] ?? "");
    if (key === "registry") out.registry = withSlash(value);
    else if (/^@[^:]+:registry$/.test(key)) out.scopes[key.slice(0, key.indexOf(":"))] = withSlash(value);
    else if (key.startsWith("//") && key.endsWith(":_authToken"))
      out.tokens[withSlash(key.slice(0, -":_authToken".length))] = value;
  }
  return out.registry === "" ? { scopes: out.scopes, tokens: out.tokens } : out;
}

/** Resolve the settings from config (and the `.npmrc` it names). Throws `E_CONFIG_INVALID` for an unreadable file. */
export function registrySettings(
  config: MarketplaceConfig,
  env: Readonly<Record<string, string | undefined>> = process.env,
): RegistrySettings {
  let fromFile: Partial<RegistrySettings> = {};
  if (config.npmrc !== undefined) {
    try {
      fromFile = parseNpmrc(readFileSync(config.npmrc, "utf8"), env);
    } catch (error) {
      throw new SwitchboardError(
        "E_CONFIG_INVALID",
        `cannot read marketplace.npmrc ${config.npmrc}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  const tokens: Record<string, string> = { ...fromFile.tokens };
  for (const [registry, token] of Object.entries(config.tokens)) {
    tokens[registry.startsWith("//") ? withSlash(registry) : nerfDart(registry)] = token;
  }
  const scopes: Record<string, string> = { ...fromFile.scopes };
  for (const [scope, url] of Object.entries(config.scopes)) scopes[scope] = withSlash(url);
  // An explicitly configured registry (file or env) wins over an .npmrc's; the schema default does not.
  const registry =
    config.registry !== "https://registry.npmjs.org/" || fromFile.registry === undefined
      ? withSlash(config.registry)
      : fromFile.registry;
  return { registry, scopes, tokens };
}

/** The registry a package name resolves to. */
export function registryFor(settings: RegistrySettings, name: string): string {
  if (name.startsWith("@")) {
    const scope = name.slice(0, name.indexOf("/"));
    const scoped = settings.scopes[scope];
    if (scoped !== undefined) return scoped;
  }
  return settings.registry;
}

/** pacote / npm-registry-fetch options for these settings (tokens as `//host/:_authToken`). */
export function npmOptions(settings: RegistrySettings, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const opts: Record<string, unknown> = { registry: settings.registry, ...extra };
  for (const [scope, url] of Object.entries(settings.scopes)) opts[`${scope}:registry`] = url;
  for (const [dart, token] of Object.entries(settings.tokens)) opts[`${dart}:_authToken`] = token;
  return opts;
}
