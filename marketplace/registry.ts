/**
 * The registry client: search (`/-/v1/search`), package info (the full packument), resolving a range to one
 * version, registry signing keys (`/-/npm/v1/keys`) and the tarball download, on pacote and npm-registry-fetch.
 * Every failure becomes a `SwitchboardError` naming the registry and the package.
 */
import type npmFetch from "npm-registry-fetch";
import semver from "semver";
import ssri from "ssri";
import { SwitchboardError } from "../bot/index.ts";
import { flattenPermissions } from "./permission-diff.ts";
import { npmOptions, registryFor, type RegistrySettings } from "./registry-options.ts";
import { SKILL_KEYWORD, type ProgressListener, type SkillInfo, type SkillSearchHit } from "./types.ts";

// pacote and npm-registry-fetch (with sigstore, tuf, cacache: ~40 MB resident, ~1 s to import) load with the
// first registry request, not with the bot.
let clients: Promise<{ pacote: typeof import("pacote"); fetch: typeof npmFetch }> | undefined;
function registryClients(): Promise<{ pacote: typeof import("pacote"); fetch: typeof npmFetch }> {
  clients ??= Promise.all([import("pacote"), import("npm-registry-fetch")]).then(([p, f]) => ({
    pacote: p.default,
    fetch: f.default,
  }));
  return clients;
}

/** A registry signing key as `/-/npm/v1/keys` lists it. */
export interface RegistryKey {
  keyid: string;
  keytype?: string;
  scheme?: string;
  /** Base64 SPKI DER. */
  key: string;
  expires?: string | null;
}

/** One resolved version, ready to download. */
export interface ResolvedPackage {
  name: string;
  version: string;
  registry: string;
  /** Tarball URL. */
  resolved: string;
  /** `sha512-…` from `dist.integrity`. */
  integrity: string;
  /** The version's package.json as published (registry metadata, not yet the tarball's). */
  manifest: Record<string, unknown>;
  /** Whether the registry signature was checked and held. */
  signatureVerified: boolean;
}

/** Options for the client. */
export interface RegistryClientOptions {
  settings: RegistrySettings;
  /** pacote's content cache folder. */
  cacheDir: string;
  timeoutMs: number;
  requireSignatures: boolean;
  userAgent?: string;
}

function marketplaceError(message: string, chatMessage: string, cause?: unknown): SwitchboardError {
  return new SwitchboardError("E_MARKETPLACE", message, { chatMessage, cause });
}

/** Map an npm fetch/pacote failure to a clear error. */
function fromFetchError(error: unknown, what: string, registry: string): SwitchboardError {
  if (error instanceof SwitchboardError) return error;
  const e = error as { code?: string; statusCode?: number; message?: string };
  if (e.code === "E404" || e.statusCode === 404) {
    return new SwitchboardError("E_NOT_FOUND", `${what} not found on ${registry}`, {
      chatMessage: `${what} was not found on the registry.`,
      cause: error,
    });
  }
  if (e.code === "ETARGET") {
    return new SwitchboardError("E_NOT_FOUND", `${what}: no matching version on ${registry}`, {
      chatMessage: `No version of ${what} matches.`,
      cause: error,
    });
  }
  if (e.code === "EINTEGRITY") {
    return new SwitchboardError("E_INTEGRITY", `${what}: tarball does not match its integrity (${e.message ?? ""})`, {
      chatMessage: `Refused ${what}: the downloaded tarball does not match its published sha512 integrity.`,
      cause: error,
    });
  }
  if (
    e.code === "EINTEGRITYSIGNATURE" ||
    e.code === "EMISSINGSIGNATUREKEY" ||
    e.code === "EEXPIREDSIGNATUREKEY" ||
    e.code === "EMANIFESTMISMATCH"
  ) {
    return new SwitchboardError("E_INTEGRITY", `${what}: registry signature check failed (${e.message ?? e.code})`, {
      chatMessage: `Refused ${what}: its registry signature did not verify.`,
      cause: error,
    });
  }
  if (e.code === "E401" || e.code === "E403" || e.statusCode === 401 || e.statusCode === 403) {
    return marketplaceError(
      `${registry} refused ${what}: ${e.message ?? ""}`,
      `The registry refused access to ${what} (check the auth token).`,
      error,
    );
  }
  return marketplaceError(
    `${what} from ${registry} failed: ${e.message ?? String(error)}`,
    `The registry could not be reached for ${what}.`,
    error,
  );
}

/** Talks to one or more npm registries. */
export class RegistryClient {
  readonly #options: RegistryClientOptions;
  readonly #keys = new Map<string, Promise<RegistryKey[] | undefined>>();

  constructor(options: RegistryClientOptions) {
    this.#options = options;
  }

  /** The registry `name` resolves to. */
  registryOf(name: string): string {
    return registryFor(this.#options.settings, name);
  }

  #opts(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return npmOptions(this.#options.settings, {
      cache: this.#options.cacheDir,
      timeout: this.#options.timeoutMs,
      fetchRetries: 1,
      fetchRetryFactor: 2,
      fetchRetryMintimeout: 200,
      fetchRetryMaxtimeout: 2_000,
      userAgent: this.#options.userAgent ?? "switchboard-marketplace",
      ...extra,
    });
  }

  /**
   * Search for skills. Asks for `keywords:switchboard-skill <text>` and, because some registries (Verdaccio) do
   * not index keywords, also for `<text>` alone; keeps only packages that carry the keyword.
   */
  async search(text: string, options: { size?: number; signal?: AbortSignal } = {}): Promise<SkillSearchHit[]> {
    const size = Math.min(Math.max(options.size ?? 20, 1), 250);
    const registry = this.#options.settings.registry;
    const ask = async (query: string): Promise<Array<Record<string, unknown>>> => {
      try {
        const body = await (await registryClients()).fetch.json("/-/v1/search", {
          ...this.#opts(),
          query: { text: query, size },
          signal: options.signal,
        } as npmFetch.Options);
        return Array.isArray(body.objects) ? (body.objects as Array<Record<string, unknown>>) : [];
      } catch (error) {
        throw fromFetchError(error, "search", registry);
      }
    };
    const trimmed = text.trim();
    const [byKeyword, byText] = await Promise.all([ask(`keywords:${SKILL_KEYWORD} ${trimmed}`.trim()), ask(trimmed)]);
    const hits = new Map<string, SkillSearchHit>();
    for (const object of [...byKeyword, ...byText]) {
      const pkg = object.package as Record<string, unknown> | undefined;
      if (pkg === undefined || typeof pkg.name !== "string") continue;
      const keywords = Array.isArray(pkg.keywords)
        ? pkg.keywords.filter((k): k is string => typeof k === "string")
        : [];
      if (!keywords.includes(SKILL_KEYWORD) || hits.has(pkg.name)) continue;
      const tags = pkg["dist-tags"] as Record<string, string> | undefined;
      hits.set(pkg.name, {
        name: pkg.name,
        version: typeof pkg.version === "string" ? pkg.version : (tags?.latest ?? ""),
        description: typeof pkg.description === "string" ? pkg.description : "",
        keywords,
        date: typeof pkg.date === "string" ? pkg.date : (pkg.time as { modified?: string } | undefined)?.modified,
      });
    }
    return [...hits.values()].slice(0, size);
  }

  /** A package's details: versions with publish times, dist-tags, the latest manifest and its permissions. */
  async info(name: string): Promise<SkillInfo> {
    const registry = this.registryOf(name);
    let packument: Record<string, unknown>;
    try {
      packument = (await (
        await registryClients()
      ).pacote.packument(name, this.#opts({ fullMetadata: true, preferOnline: true }))) as unknown as Record<
        string,
        unknown
      >;
    } catch (error) {
      throw fromFetchError(error, name, registry);
    }
    const versions = (packument.versions ?? {}) as Record<string, Record<string, unknown>>;
    const time = (packument.time ?? {}) as Record<string, string>;
    const distTags = (packument["dist-tags"] ?? {}) as Record<string, string>;
    const latestVersion =
      distTags.latest ?? semver.rsort(Object.keys(versions).filter((v) => semver.valid(v) !== null))[0];
    const latest = latestVersion === undefined ? undefined : versions[latestVersion];
    const manifest = latest?.switchboard;
    const keywords = Array.isArray(latest?.keywords) ? (latest.keywords as unknown[]) : [];
    return {
      name,
      description: typeof latest?.description === "string" ? latest.description : "",
      registry,
      distTags,
      versions: semver.rsort(Object.keys(versions).filter((v) => semver.valid(v) !== null)).map((v) => ({
        version: v,
        publishedAt: time[v],
        deprecated: typeof versions[v]?.deprecated === "string" ? (versions[v].deprecated as string) : undefined,
      })),
      latestManifest:
        typeof manifest === "object" && manifest !== null ? (manifest as Record<string, unknown>) : undefined,
      latestPermissions: flattenPermissions((manifest as { permissions?: unknown } | undefined)?.permissions),
      hasKeyword: keywords.includes(SKILL_KEYWORD),
    };
  }

  /** The registry's signing keys, or undefined when it publishes none (404). Cached per registry. */
  async keys(registry: string): Promise<RegistryKey[] | undefined> {
    let cached = this.#keys.get(registry);
    if (cached === undefined) {
      cached = (async () => {
        try {
          const body = await (await registryClients()).fetch.json("/-/npm/v1/keys", {
            ...this.#opts(),
            registry,
          } as npmFetch.Options);
          return Array.isArray(body.keys) ? (body.keys as RegistryKey[]) : undefined;
        } catch (error) {
          const e = error as { statusCode?: number; code?: string };
          if (e.statusCode === 404 || e.code === "E404") return undefined;
          throw fromFetchError(error, "signing keys", registry);
        }
      })();
      this.#keys.set(registry, cached);
      cached.catch(() => this.#keys.delete(registry));
    }
    return cached;
  }

  /** Resolve `name@range` to one version; checks integrity form and (where keys exist) the registry signature. */
  async resolve(name: string, range: string): Promise<ResolvedPackage> {
    const registry = this.registryOf(name);
    const keys = await this.keys(registry);
    if (keys === undefined && this.#options.requireSignatures) {
      throw new SwitchboardError(
        "E_INTEGRITY",
        `${registry} publishes no signing keys and marketplace.requireSignatures is on`,
        {
          chatMessage: `Refused ${name}: signatures are required and the registry publishes no signing keys.`,
        },
      );
    }
    const extra: Record<string, unknown> = { fullMetadata: true, preferOnline: true };
    if (keys !== undefined) {
      const u = new URL(registry);
      extra.verifySignatures = true;
      extra[`//${u.host}${u.pathname}:_keys`] = keys.map((k) => ({
        ...k,
        pemkey: `-----BEGIN PUBLIC KEY-----\n${k.key}\n-----END PUBLIC KEY-----`,
      }));
    }
    let manifest: Record<string, unknown>;
    try {
      manifest = (await (
        await registryClients()
      ).pacote.manifest(`${name}@${range}`, this.#opts(extra))) as unknown as Record<string, unknown>;
    } catch (error) {
      throw fromFetchError(error, `${name}@${range}`, registry);
    }
    const dist = (manifest.dist ?? {}) as { integrity?: string; tarball?: string; signatures?: unknown[] };
    const parsed = dist.integrity === undefined ? undefined : ssri.parse(dist.integrity);
    if (parsed?.sha512 === undefined || parsed.sha512.length === 0) {
      throw new SwitchboardError("E_INTEGRITY", `${name}@${String(manifest.version)} has no sha512 dist.integrity`, {
        chatMessage: `Refused ${name}: the registry gives no sha512 integrity for it.`,
      });
    }
    const signed = keys !== undefined && Array.isArray(dist.signatures) && dist.signatures.length > 0;
    if (this.#options.requireSignatures && !signed) {
      throw new SwitchboardError("E_INTEGRITY", `${name}@${String(manifest.version)} carries no registry signature`, {
        chatMessage: `Refused ${name}: signatures are required and this version is not signed.`,
      });
    }
    return {
      name,
      version: String(manifest.version),
      registry,
      resolved: String(manifest._resolved ?? dist.tarball),
      integrity: parsed.sha512.map((h) => h.toString()).join(" "),
      manifest,
      signatureVerified: signed,
    };
  }

  /**
   * Download the tarball into memory, refusing it past `maxBytes` (by Content-Length, and by counting while it
   * streams, aborting the request), then verifying the whole buffer against the integrity.
   */
  async download(
    pkg: ResolvedPackage,
    options: { maxBytes: number; onProgress?: ProgressListener | undefined; signal?: AbortSignal },
  ): Promise<Buffer> {
    const what = `${pkg.name}@${pkg.version}`;
    const oversized = (): SwitchboardError =>
      new SwitchboardError("E_SKILL_INVALID", `${what}: tarball is larger than ${options.maxBytes} bytes`, {
        chatMessage: `Refused ${what}: the tarball is larger than the ${options.maxBytes}-byte limit.`,
        details: { reason: "oversized" },
      });
    const abort = new AbortController();
    const onOuterAbort = (): void => abort.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onOuterAbort, { once: true });
    try {
      // No cache and no integrity option here: the bytes are checked below, and an aborted body must not be cached.
      const res = await (await registryClients()).fetch(pkg.resolved, {
        ...this.#opts({ cache: undefined, preferOnline: true }),
        registry: pkg.registry,
        signal: abort.signal,
      } as npmFetch.Options);
      const length = Number(res.headers.get("content-length") ?? Number.NaN);
      const totalBytes = Number.isFinite(length) ? length : undefined;
      if (totalBytes !== undefined && totalBytes > options.maxBytes) {
        abort.abort();
        throw oversized();
      }
      const chunks: Buffer[] = [];
      let received = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (received > options.maxBytes) {
          abort.abort();
          throw oversized();
        }
        chunks.push(chunk);
        options.onProgress?.({
          kind: "download",
          name: pkg.name,
          version: pkg.version,
          receivedBytes: received,
          totalBytes,
        });
      }
      const buffer = Buffer.concat(chunks);
      if (!ssri.checkData(buffer, pkg.integrity)) {
        throw fromFetchError(
          Object.assign(new Error(`got ${ssri.fromData(buffer, { algorithms: ["sha512"] }).toString()}`), {
            code: "EINTEGRITY",
          }),
          what,
          pkg.registry,
        );
      }
      return buffer;
    } catch (error) {
      throw fromFetchError(error, what, pkg.registry);
    } finally {
      options.signal?.removeEventListener("abort", onOuterAbort);
    }
  }
}
