/** marketplace settings (owned by the marketplace module; see marketplace/README.md). */
import { z } from "zod";

const registryUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), "registries are http(s) URLs");

export const marketplaceSection = z
  .object({
    /** The default npm registry skills are searched and installed from. */
    registry: registryUrl.default("https://registry.npmjs.org/"),
    /** Per-scope registries, like npm's `@acme:registry=`: `{ "@acme": "https://npm.acme.dev/" }`. */
    scopes: z.record(z.string().regex(/^@[a-z0-9][a-z0-9._-]*$/, "scopes are written @name"), registryUrl).default({}),
    /**
     * Auth tokens per registry URL (`{ "https://npm.acme.dev/": "npm_xxx" }`). Prefer the environment
     * (`SWITCHBOARD_MARKETPLACE__TOKENS`) or an `.npmrc` (below) over writing tokens in the config file.
     */
    tokens: z.record(z.string(), z.string().min(1)).default({}),
    /** An `.npmrc` to read registries and `//host/:_authToken=` lines from (`${ENV}` is expanded). */
    npmrc: z.string().min(1).optional(),
    /** Refuse packages without a valid registry signature (only registries that publish `/-/npm/v1/keys` sign). */
    requireSignatures: z.boolean().default(false),
    /** Largest tarball downloaded, in bytes. */
    maxTarballBytes: z
      .number()
      .int()
      .positive()
      .default(5 * 1024 * 1024),
    /** Largest unpacked size of a skill, in bytes. */
    maxUnpackedBytes: z
      .number()
      .int()
      .positive()
      .default(20 * 1024 * 1024),
    /** Most files a skill package may hold. */
    maxFiles: z.number().int().positive().default(500),
    /** Registry requests give up after this, in ms. */
    timeoutMs: z.number().int().positive().default(30_000),
    /** Load installed skills from the lockfile when the bot starts. */
    loadOnStart: z.boolean().default(true),
    /** How long a pending approval (`/skills approve <id>`) and an install plan shown for `/confirm` stay valid, in ms. */
    approvalTtlMs: z
      .number()
      .int()
      .positive()
      .default(15 * 60_000),
  })
  .strict()
  .default({
    registry: "https://registry.npmjs.org/",
    scopes: {},
    tokens: {},
    requireSignatures: false,
    maxTarballBytes: 5 * 1024 * 1024,
    maxUnpackedBytes: 20 * 1024 * 1024,
    maxFiles: 500,
    timeoutMs: 30_000,
    loadOnStart: true,
    approvalTtlMs: 15 * 60_000,
  });

/** The validated marketplace settings. */
export type MarketplaceConfig = z.infer<typeof marketplaceSection>;
