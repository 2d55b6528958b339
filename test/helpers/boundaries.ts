/**
 * The module boundaries as data, and a checker that parses imports with the TypeScript compiler (static imports,
 * `import type`, `export … from`, `import()` with a literal specifier, `import("…").T` in types, and
 * `import x = require("…")`). `test/unit/boundaries.test.ts` runs it over the tree and over synthetic files.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import ts from "typescript";

/** One import of one file, as written and as a project-relative path (`undefined` for packages). */
export interface ImportRef {
  specifier: string;
  /** Project-relative target, `/`-separated, or `undefined` when the specifier names a package. */
  target: string | undefined;
  kind: "static" | "type" | "export" | "dynamic" | "require";
  line: number;
}

/** A file that imports what its zone may not. */
export interface Violation {
  file: string;
  import: ImportRef;
  zone: string;
  rule: string;
}

/** Our own package names: importing one of these from inside the tree is importing the core. */
const OWN_PACKAGES = /^switchboard(\/|$)/;

/** Every import of a source text, in order. `file` is project-relative (for resolving `./…`). */
export function importsOf(file: string, text: string): ImportRef[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, scriptKind(file));
  const out: ImportRef[] = [];
  const add = (node: ts.Node, spec: ts.Expression | undefined, kind: ImportRef["kind"]) => {
    if (spec === undefined || !ts.isStringLiteralLike(spec)) return;
    const specifier = spec.text;
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    out.push({ specifier, target: resolveTarget(file, specifier), kind, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node, node.moduleSpecifier, node.importClause?.isTypeOnly === true ? "type" : "static");
    } else if (ts.isExportDeclaration(node)) {
      add(node, node.moduleSpecifier, "export");
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, "require");
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, node.arguments[0], "dynamic");
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal as ts.Expression, "type");
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function scriptKind(file: string): ts.ScriptKind {
  return /\.(m|c)?js$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
}

function resolveTarget(file: string, specifier: string): string | undefined {
  if (specifier.startsWith(".")) return posix.normalize(posix.join(posix.dirname(file), specifier));
  if (OWN_PACKAGES.test(specifier)) return "bot/index.ts";
  return undefined;
}

/** Where a file sits, and the targets it may import (prefixes; an entry ending in `.ts` is one file). */
export interface Zone {
  name: string;
  /** Does this file belong to the zone? The first matching zone applies. */
  holds(file: string): boolean;
  /** May a file of this zone import `target`? */
  allows(target: string, file: string): boolean;
  /** Said when it may not. */
  rule: string;
}

const under = (target: string, ...prefixes: string[]) =>
  prefixes.some((p) => (p.endsWith("/") ? target.startsWith(p) : target === p));
/**
 * A feature module: its own folder, `config/` (a leaf), the core's public entry, and the skill SDK (a leaf: the
 * shapes skills see, which a module answering a capability returns).
 */
const featureModule = (folder: string, ...also: string[]): Zone => ({
  name: folder,
  holds: (file) => file.startsWith(folder),
  allows: (target) => under(target, folder, "config/", "bot/index.ts", "skills/sdk/", ...also),
  rule: `${folder} imports ${["itself", "config/", "bot/index.ts", "skills/sdk/", ...also].join(", ")} only`,
});

/** The boundaries of the tree, first match wins. Files in no zone (test/, bin/, root files) are not checked. */
export const ZONES: readonly Zone[] = [
  {
    name: "config/",
    holds: (file) => file.startsWith("config/"),
    allows: (target) => under(target, "config/"),
    rule: "config/ is a leaf: it imports nothing of ours",
  },
  {
    name: "skills/sdk/",
    holds: (file) => file.startsWith("skills/sdk/"),
    allows: (target) => under(target, "skills/sdk/"),
    rule: "the skill SDK imports nothing of ours",
  },
  {
    name: "skills/builtin/ (skill packages)",
    holds: (file) => /^skills\/builtin\/[^/]+\/src\//.test(file),
    allows: (target, file) => under(target, "skills/sdk/", `${file.split("/").slice(0, 3).join("/")}/`),
    rule: "a skill package imports the skill SDK and its own files only",
  },
  {
    name: "bot/app/ (composition root and CLI)",
    holds: (file) => file.startsWith("bot/app/"),
    allows: (target) =>
      under(
        target,
        "bot/",
        "config/",
        "adapters/",
        "skills/",
        "marketplace/",
        "schedules/",
        "llm/",
        "gateway/",
        "hooks/",
        "package.json",
      ),
    rule: "the composition root imports the project's modules only",
  },
  {
    name: "bot/ (core)",
    holds: (file) => file.startsWith("bot/"),
    allows: (target) => under(target, "bot/", "config/") && !under(target, "bot/app/"),
    rule: "the core imports bot/ and config/ only, and never the composition root",
  },
  {
    name: "adapters/index.ts",
    holds: (file) => file === "adapters/index.ts",
    allows: (target) => under(target, "adapters/", "config/", "bot/index.ts"),
    rule: "the adapter list imports adapters, config/ and bot/index.ts only",
  },
  {
    name: "adapters/<platform>/",
    holds: (file) => file.startsWith("adapters/"),
    allows: (target, file) =>
      under(target, `adapters/${file.split("/")[1]}/`, "adapters/shared/", "config/", "bot/index.ts"),
    rule: "an adapter imports its own folder, adapters/shared/, config/ and bot/index.ts only",
  },
  featureModule("marketplace/", "skills/"),
  featureModule("skills/"),
  featureModule("schedules/"),
  featureModule("llm/"),
  // The gateway builds on the LLM module's public entry (registry, fallback chain, usage), nothing deeper.
  featureModule("gateway/", "llm/index.ts"),
  featureModule("hooks/"),
];

/** The violations among `files` (project-relative paths with their text). */
export function checkBoundaries(files: Iterable<{ path: string; text: string }>): Violation[] {
  const out: Violation[] = [];
  for (const { path, text } of files) {
    const zone = ZONES.find((z) => z.holds(path));
    if (zone === undefined) continue;
    for (const ref of importsOf(path, text)) {
      if (ref.target === undefined || zone.allows(ref.target, path)) continue;
      out.push({ file: path, import: ref, zone: zone.name, rule: zone.rule });
    }
  }
  return out;
}

/** Every source file under `dirs` of `root`, skipping installed packages and build output. */
export function sourceFiles(root: string, dirs: readonly string[]): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir))) {
      if (name === "node_modules" || name === "dist") continue;
      const path = posix.join(dir, name);
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (/\.(ts|mts|cts|js|mjs|cjs)$/.test(name) && !name.endsWith(".d.ts"))
        out.push({ path, text: readFileSync(join(root, path), "utf8") });
    }
  };
  for (const dir of dirs) walk(dir);
  return out;
}

/** `file:line imports spec (rule)`, for failure messages. */
export function describeViolation(v: Violation): string {
  return `${v.file}:${v.import.line} ${v.import.kind} import of ${v.import.specifier} — ${v.rule}`;
}

/** A parameter or property typed as the whole `Core`. */
export interface WholeCoreUse {
  file: string;
  line: number;
  /** The parameter's or property's name. */
  name: string;
}

/**
 * Parameters and properties typed as the whole `Core` bag (a bare `Core`; `Pick<Core, …>`, `Core["config"]` and
 * a module's `ServicesOf<…>` are what a module should take instead), parsed with the TypeScript compiler.
 */
export function wholeCoreUses(file: string, text: string): WholeCoreUse[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, scriptKind(file));
  const out: WholeCoreUse[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isParameter(node) || ts.isPropertyDeclaration(node) || ts.isPropertySignature(node)) &&
      node.type !== undefined &&
      ts.isTypeReferenceNode(node.type) &&
      ts.isIdentifier(node.type.typeName) &&
      node.type.typeName.text === "Core"
    ) {
      const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      out.push({ file, line, name: node.name.getText(source) });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}
