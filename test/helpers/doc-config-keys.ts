/**
 * Finds config keys named in Markdown (dotted keys in code spans, `SWITCHBOARD_<SECTION>__<KEY>` variables, YAML
 * config blocks) and checks them against the key paths of a zod schema. Used by the docs test that keeps every
 * config key the docs name in step with `config/schema.ts`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { envOverrides } from "../../config/index.ts";

/** A config key named in a document. */
export interface DocConfigKey {
  /** Dotted path, array indexes dropped: `adapters.telegram.mode`. */
  key: string;
  /** 1-based line of the mention. */
  line: number;
  /** How it was written: a code span, an environment variable, or a key in a YAML config block. */
  form: "code" | "env" | "yaml";
  /** The text as written. */
  written: string;
}

/** JSON Schema nodes as zod writes them (the parts the walk reads). */
interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  allOf?: SchemaNode[];
}

/**
 * Every key path the schema accepts, as written in a config file: objects add a level, records add a `*` level,
 * arrays are transparent (`llm.models.provider`). Derived from the schema itself, so new keys need no list.
 */
export function schemaKeyPaths(schema: z.ZodType): Set<string> {
  const root = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as SchemaNode;
  const paths = new Set<string>();
  const walk = (node: SchemaNode | undefined, path: string): void => {
    if (node === undefined) return;
    for (const alternative of [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])])
      walk(alternative, path);
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      const childPath = path === "" ? name : `${path}.${name}`;
      paths.add(childPath);
      walk(child, childPath);
    }
    if (typeof node.additionalProperties === "object") {
      paths.add(`${path}.*`);
      walk(node.additionalProperties, `${path}.*`);
    }
    walk(node.items, path);
  };
  walk(root, "");
  return paths;
}

/** True when `key` is a path of the schema; a `*` level in the schema takes any name. */
export function isSchemaKey(key: string, paths: ReadonlySet<string>): boolean {
  if (paths.has(key)) return true;
  const parts = key.split(".");
  for (const path of paths) {
    const schemaParts = path.split(".");
    if (schemaParts.length === parts.length && schemaParts.every((p, i) => p === "*" || p === parts[i])) return true;
  }
  return false;
}

/** Endings that make a dotted name a file, not a key (`skills.ts`, `schedules.md`). */
const FILE_ENDING = /\.(ts|js|mjs|cjs|json|md|ya?ml|html|txt|log|tgz)$/;

/**
 * A dotted name: not inside a longer name or path (`ctx.storage.get`, `skills/sdk`), not a call (`bot.command(`);
 * `<placeholder>` levels and `[0]` indexes allowed.
 */
const DOTTED_KEY = /(?<![\w./$-])([a-z][A-Za-z0-9]*)((?:\.(?:[A-Za-z0-9_@-]+|\*|<[^>]+>)(?:\[\d*\])?)+)(?![\w(.])/g;

/** The 1-based line of `index` in `text`. */
function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < index; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/** Flatten a YAML config block into key paths (records and arrays included, array indexes dropped). */
function yamlKeys(value: unknown, path: string, out: string[]): void {
  if (Array.isArray(value)) {
    for (const item of value) yamlKeys(item, path, out);
  } else if (typeof value === "object" && value !== null) {
    for (const [name, child] of Object.entries(value)) {
      const childPath = path === "" ? name : `${path}.${name}`;
      out.push(childPath);
      yamlKeys(child, childPath, out);
    }
  }
}

/**
 * The config keys a Markdown text names. `sections` are the schema's top-level keys: a dotted code span counts as
 * a key when it starts with one (`limits.maxQueued`, `storage.redisUrl: redis://…`), and a YAML block counts as
 * config when one of its top-level keys is one.
 */
export function configKeysInMarkdown(text: string, sections: ReadonlySet<string>): DocConfigKey[] {
  const found: DocConfigKey[] = [];
  const fences = /^```(\w*)[^\n]*\n([\s\S]*?)^```/gm;
  for (const fence of text.matchAll(fences)) {
    if (fence[1] !== "yaml" && fence[1] !== "yml") continue;
    let doc: unknown;
    try {
      doc = parseYaml(fence[2]!);
    } catch {
      continue; // not a whole YAML document (a fragment with ellipses): the code-span pass still reads it
    }
    if (typeof doc !== "object" || doc === null || !Object.keys(doc).some((k) => sections.has(k))) continue;
    const keys: string[] = [];
    yamlKeys(doc, "", keys);
    const line = lineAt(text, fence.index);
    for (const key of keys) found.push({ key, line, form: "yaml", written: key });
  }
  // Dotted keys anywhere in code: code blocks (YAML comments included) and code spans outside them.
  const keysInCode = (code: string, offset: number): void => {
    for (const m of code.matchAll(DOTTED_KEY)) {
      if (!sections.has(m[1]!) || FILE_ENDING.test(m[0])) continue;
      const key = m[0].replace(/\[\d*\]/g, "").replace(/<[^>]+>/g, "*");
      found.push({ key, line: lineAt(text, offset + m.index), form: "code", written: m[0] });
    }
  };
  let end = 0;
  for (const fence of text.matchAll(fences)) {
    for (const span of text.slice(end, fence.index).matchAll(/`([^`\n]+)`/g))
      keysInCode(span[1]!, end + span.index + 1);
    keysInCode(fence[0], fence.index);
    end = fence.index + fence[0].length;
  }
  for (const span of text.slice(end).matchAll(/`([^`\n]+)`/g)) keysInCode(span[1]!, end + span.index + 1);
  for (const variable of text.matchAll(/\bSWITCHBOARD_[A-Z0-9_]*[A-Z0-9]__[A-Z0-9][A-Z0-9_]*\b/g)) {
    const [override] = envOverrides({ [variable[0]]: "1" });
    if (override === undefined) continue;
    found.push({ key: override.path, line: lineAt(text, variable.index), form: "env", written: variable[0] });
  }
  return found;
}

/** The Markdown files whose config keys must be true: every README, `docs/**.md`, and CONTRIBUTING.md. */
export function markdownFiles(root: string): string[] {
  const skip = new Set(["node_modules", ".git", "data", ".tmp", "dist", "coverage"]);
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (skip.has(entry.name)) continue;
      const path = join(dir, entry.name);
      const rel = relative(root, path);
      if (entry.isDirectory()) {
        if (rel !== join("docs", "sdk")) walk(path);
      } else if (
        entry.name === "README.md" ||
        (rel.startsWith(`docs/`) && entry.name.endsWith(".md")) ||
        rel === "CONTRIBUTING.md"
      ) {
        out.push(rel);
      }
    }
  };
  walk(root);
  return out.sort();
}

/**
 * Dotted names the sources define that are not config keys: string literals such as audit actions and kv
 * namespaces (`"skills.enable"`, `"llm.profile"`, `` `skills.${sub}` `` as `skills.*`), and method names
 * (`canRun` from `.canRun(`), so a doc may write `permissions.canRun`. `config/` is not read: its strings name
 * config keys, and a stale one there must not excuse a stale one in the docs.
 */
export function namesInSources(root: string, folders: string[]): { literals: Set<string>; methods: Set<string> } {
  const literals = new Set<string>();
  const methods = new Set<string>();
  const read = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === "node_modules" || entry.name === "dist") continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) read(path);
      else if (entry.name.endsWith(".ts")) {
        const source = readFileSync(path, "utf8");
        for (const m of source.matchAll(/["'`]([a-z][A-Za-z0-9]*(?:\.(?:[A-Za-z0-9_-]+|\$\{[^}]+\}))+)["'`]/g))
          literals.add(m[1]!.replace(/\$\{[^}]+\}/g, "*"));
        for (const m of source.matchAll(/\.([A-Za-z_$][\w$]*)\(/g)) methods.add(m[1]!);
      }
    }
  };
  for (const folder of folders) read(join(root, folder));
  return { literals, methods };
}
