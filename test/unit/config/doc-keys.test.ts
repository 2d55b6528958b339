import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ENV_ALIASES, configSchema } from "../../../config/index.ts";
import {
  type DocConfigKey,
  configKeysInMarkdown,
  isSchemaKey,
  markdownFiles,
  namesInSources,
  schemaKeyPaths,
} from "../../helpers/doc-config-keys.ts";

const root = resolve(import.meta.dirname, "../../..");
const paths = schemaKeyPaths(configSchema);
const sections = new Set([...paths].filter((p) => !p.includes(".")));
// Every top-level source folder but config/ (whose strings name config keys) and the tests.
const sourceFolders = readdirSync(root, { withFileTypes: true })
  .filter(
    (e) =>
      e.isDirectory() &&
      !e.name.startsWith(".") &&
      !["config", "test", "node_modules", "docs", "data", "dist"].includes(e.name),
  )
  .map((e) => e.name);
const sourceNames = namesInSources(root, sourceFolders);

/** The keys named in `text` that the schema does not have (names the sources define are not config keys). */
function unknownKeys(text: string, schemaPaths = paths): DocConfigKey[] {
  const topLevel = new Set([...schemaPaths].filter((p) => !p.includes(".")));
  return configKeysInMarkdown(text, topLevel).filter(
    (k) =>
      !isSchemaKey(k.key, schemaPaths) &&
      !(k.form !== "env" && sourceNames.literals.has(k.key)) &&
      !(k.form === "code" && sourceNames.methods.has(k.key.split(".").at(-1)!)),
  );
}

describe("config keys in the docs", () => {
  it("derives the key set from the schema", () => {
    expect(sections).toEqual(new Set(Object.keys(configSchema.shape)));
    for (const key of [
      "limits.maxQueued",
      "http.port",
      "storage.redisUrl",
      "adapters.telegram.outbound.globalPerSecond",
    ])
      expect(paths.has(key), key).toBe(true);
    expect(isSchemaKey("permissions.commandRoles.deploy", paths)).toBe(true); // a record takes any name
    expect(isSchemaKey("llm.models.provider", paths)).toBe(true); // arrays are transparent
  });

  it("names only keys the schema has, in every README, docs/*.md and CONTRIBUTING.md", () => {
    const files = markdownFiles(root);
    expect(files).toEqual(expect.arrayContaining(["README.md", "config/README.md", "docs/architecture.md"]));
    const stale: string[] = [];
    let checked = 0;
    for (const file of files) {
      const keys = configKeysInMarkdown(readFileSync(join(root, file), "utf8"), sections);
      checked += keys.length;
      for (const k of unknownKeys(readFileSync(join(root, file), "utf8")))
        stale.push(`${file}:${k.line} ${k.written} (${k.key})`);
    }
    expect(stale).toEqual([]);
    expect(checked).toBeGreaterThan(50); // the docs do name keys: the scan is reading them
  });

  it("maps every well-known environment variable to a key the schema has", () => {
    for (const [variable, { path }] of Object.entries(ENV_ALIASES))
      expect(isSchemaKey(path, paths), variable).toBe(true);
  });

  it("reports a misspelt or stale key in a code span, an environment variable or a YAML block", () => {
    const doc = [
      "Set `limits.maxQueued` and `http.port: 9000`; `limits.maxQueue` is misspelt.",
      "`storage.redisUrl` is right, `storage.redis.endpointUrl` is not; `schedules.ts` is a file, not a key.",
      "`permissions.commandRoles.deploy: admin` is a record entry.",
      "Environment: SWITCHBOARD_HTTP__PORT=9000 works, SWITCHBOARD_HTTP__PROT=9000 does not.",
      "```yaml",
      "http:",
      "  port: 8080",
      "adapters:",
      "  telegram:",
      "    mode: polling",
      "    pollTimeout: 30",
      "```",
      "```yaml",
      "steps:",
      "  - send: /hello",
      "```",
      "```sh",
      "export SWITCHBOARD_REGISTRY=http://127.0.0.1:4873/  # or marketplace.registri in the config",
      "```",
      "Skills live in `<bot.dataDir>/skills`, not `<bot.dataDirectory>/skills`; `ctx.storage.get` is code.",
    ].join("\n");
    expect(unknownKeys(doc).map((k) => [k.form, k.key, k.line])).toEqual([
      ["yaml", "adapters.telegram.pollTimeout", 5],
      ["code", "limits.maxQueue", 1],
      ["code", "storage.redis.endpointUrl", 2],
      ["code", "marketplace.registri", 18],
      ["code", "bot.dataDirectory", 20],
      ["env", "http.prot", 4],
    ]);
  });

  it("accepts a key added to the schema without any list to update", () => {
    const grown = z.object({ ...configSchema.shape, http: z.object({ port: z.number(), retryLimit: z.number() }) });
    const doc = "Set `http.retryLimit` or SWITCHBOARD_HTTP__RETRY_LIMIT=5.";
    expect(unknownKeys(doc).map((k) => [k.form, k.key])).toEqual([
      ["code", "http.retryLimit"],
      ["env", "http.retryLimit"],
    ]);
    expect(unknownKeys(doc, schemaKeyPaths(grown))).toEqual([]);
  });
});
