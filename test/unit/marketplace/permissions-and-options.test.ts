/** Permission flattening and diffs; registry settings from config and .npmrc. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configSchema } from "../../../config/index.ts";
import { diffPermissions, flattenPermissions, formatPermissions } from "../../../marketplace/permission-diff.ts";
import {
  nerfDart,
  npmOptions,
  parseNpmrc,
  registryFor,
  registrySettings,
} from "../../../marketplace/registry-options.ts";
import { parseSpec } from "../../../marketplace/installer.ts";
import { envOverrides, loadConfig } from "../../../config/index.ts";

describe("permissions", () => {
  it("flattens a runtime manifest's permissions, leaving out what is not granted", () => {
    expect(
      flattenPermissions({
        network: ["api.x.com", "*.y.org"],
        storage: { quotaKb: 64 },
        schedules: false,
        llm: true,
        messages: { otherChats: false, mentions: true },
      }),
    ).toEqual(["llm", "messages.mentions", "network:*.y.org", "network:api.x.com", "storage.quotaKb=64"]);
    expect(flattenPermissions(undefined)).toEqual([]);
  });

  it("diffs approved against requested", () => {
    expect(diffPermissions(["network:a", "storage"], ["network:a", "network:b", "llm"])).toEqual({
      added: ["network:b", "llm"],
      removed: ["storage"],
      kept: ["network:a"],
    });
  });

  it("formats permissions in words", () => {
    expect(formatPermissions(["network:api.x.com", "storage"])).toBe(
      "- fetch from api.x.com (`network:api.x.com`)\n- keep data for each chat (`storage`)",
    );
    expect(formatPermissions([])).toBe("- no permissions");
  });
});

describe("registry settings", () => {
  it("parses .npmrc registries and tokens, expanding ${ENV}", () => {
    const parsed = parseNpmrc(
      [
        "# comment",
        "registry=https://npm.acme.dev",
        "@acme:registry=https://npm.acme.dev/private/",
        "//npm.acme.dev/private/:_authToken=${ACME_TOKEN}",
        "always-auth=true",
      ].join("\n"),
      { ACME_TOKEN: "t0k" },
    );
    expect(parsed).toEqual({
      registry: "https://npm.acme.dev/",
      scopes: { "@acme": "https://npm.acme.dev/private/" },
      tokens: { "//npm.acme.dev/private/": "t0k" },
    });
  });

  it("merges config over the .npmrc and resolves scoped names", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sb-npmrc-"));
    try {
      await writeFile(join(dir, ".npmrc"), "registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=abc\n");
      const config = configSchema.parse({
        marketplace: {
          npmrc: join(dir, ".npmrc"),
          scopes: { "@team": "http://127.0.0.1:5000/npm" },
          tokens: { "http://127.0.0.1:5000/npm/": "def" },
        },
      }).marketplace;
      const settings = registrySettings(config, {});
      expect(settings.registry).toBe("http://127.0.0.1:4873/");
      expect(registryFor(settings, "@team/switchboard-skill-x")).toBe("http://127.0.0.1:5000/npm/");
      expect(registryFor(settings, "@other/x")).toBe("http://127.0.0.1:4873/");
      expect(npmOptions(settings)).toMatchObject({
        "@team:registry": "http://127.0.0.1:5000/npm/",
        "//127.0.0.1:4873/:_authToken": "abc",
        "//127.0.0.1:5000/npm/:_authToken": "def",
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("names an unreadable .npmrc clearly", () => {
    const config = configSchema.parse({ marketplace: { npmrc: "/nonexistent/.npmrc" } }).marketplace;
    expect(() => registrySettings(config, {})).toThrow(/cannot read marketplace.npmrc \/nonexistent\/.npmrc/);
  });

  it("computes npm's nerf dart", () => {
    expect(nerfDart("https://user:pw@npm.acme.dev:8443/path?x=1")).toBe("//npm.acme.dev:8443/path/");
  });

  it("takes the registry from NPM_CONFIG_REGISTRY or SWITCHBOARD_REGISTRY", () => {
    expect(envOverrides({ SWITCHBOARD_REGISTRY: "http://127.0.0.1:4873/" })).toEqual([
      { path: "marketplace.registry", variable: "SWITCHBOARD_REGISTRY", value: "http://127.0.0.1:4873/" },
    ]);
    expect(envOverrides({ NPM_CONFIG_REGISTRY: "http://127.0.0.1:4873/" })[0]?.path).toBe("marketplace.registry");
    expect(
      loadConfig({ cwd: tmpdir(), env: { SWITCHBOARD_REGISTRY: "http://127.0.0.1:4873/" } }).config.marketplace
        .registry,
    ).toBe("http://127.0.0.1:4873/");
  });

  it("names a bad registry, where it came from, and an example", () => {
    expect(() => loadConfig({ cwd: tmpdir(), env: { SWITCHBOARD_REGISTRY: "not a url" } })).toThrow(
      /marketplace\.registry[\s\S]*SWITCHBOARD_REGISTRY[\s\S]*http:\/\/127\.0\.0\.1:4873\//,
    );
  });
});

describe("parseSpec", () => {
  it("splits names and ranges, scoped or not", () => {
    expect(parseSpec("switchboard-skill-dice")).toEqual({ name: "switchboard-skill-dice", range: undefined });
    expect(parseSpec("switchboard-skill-dice@^1.2.0")).toEqual({ name: "switchboard-skill-dice", range: "^1.2.0" });
    expect(parseSpec("@acme/dice@next")).toEqual({ name: "@acme/dice", range: "next" });
  });
  it.each(["../evil", "Dice", "a b", "dice@>>>1", "@/x"])("refuses %j", (spec) => {
    expect(() => parseSpec(spec)).toThrow();
  });
});
