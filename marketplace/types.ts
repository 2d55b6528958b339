/**
 * Types the marketplace shares between its parts, and the slice of the skill runtime's `SkillService` it uses
 * (declared structurally here so the installer and its tests do not depend on the runtime's internals).
 */
import type { Core } from "../bot/index.ts";

/** The marketplace settings (`marketplace` in the config). */
export type MarketplaceConfig = Core["config"]["marketplace"];

/** The keyword every skill package carries. */
export { SKILL_KEYWORD } from "@switchboard/skill-sdk/manifest";

/** What the marketplace needs from the skill runtime. */
export interface SkillServiceLike {
  /** Load a package folder (its `package.json` holds the manifest). */
  load(packageDir: string, options: { source: string }): Promise<unknown>;
  /** Unload a skill by name (everywhere). */
  unload(name: string): Promise<unknown> | unknown;
  /** Enable a loaded skill in a chat, granting what its manifest asks for. */
  enable(chatKey: string, name: string, actor: string): Promise<unknown>;
  /** Disable a skill in a chat. */
  disable(chatKey: string, name: string, actor: string): Promise<unknown>;
  /** Names of the skills enabled in a chat. */
  enabledIn(chatKey: string): Promise<readonly unknown[]> | readonly unknown[];
  /** What the chat granted a skill (undefined when not enabled). */
  grantsFor(chatKey: string, name: string): Promise<unknown> | unknown;
  setSetting?(chatKey: string, name: string, key: string, value: unknown, actor: string): Promise<unknown>;
  getSettings?(chatKey: string, name: string): Promise<unknown> | unknown;
}

/** One search hit. */
export interface SkillSearchHit {
  name: string;
  version: string;
  description: string;
  keywords: string[];
  /** ISO date of the last publish, when the registry says. */
  date?: string | undefined;
}

/** One published version, as `info` shows it. */
export interface SkillVersionInfo {
  version: string;
  /** ISO publish time. */
  publishedAt?: string | undefined;
  deprecated?: string | undefined;
}

/** A package's details from its packument. */
export interface SkillInfo {
  name: string;
  description: string;
  /** The registry it came from. */
  registry: string;
  distTags: Record<string, string>;
  /** Newest first. */
  versions: SkillVersionInfo[];
  /** The latest version's manifest (`switchboard` field), as published (unvalidated). */
  latestManifest: Record<string, unknown> | undefined;
  /** The latest version's requested permissions, flattened (`network:api.example.com`, `storage`). */
  latestPermissions: string[];
  hasKeyword: boolean;
}

/** The files of a package, read from its tarball (paths relative to the package root). */
export type { PackageFiles } from "@switchboard/skill-sdk/checks";

/** A progress event: a download or a step of an install. */
export type ProgressEvent =
  | { kind: "download"; name: string; version: string; receivedBytes: number; totalBytes: number | undefined }
  | { kind: "step"; name: string; version: string; step: string };

/** Receives progress events (the CLI draws a progress line). */
export type ProgressListener = (event: ProgressEvent) => void;
