import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkExamples, docExamples, exportDocProblems } from "../../helpers/doc-comments.ts";

const root = resolve(import.meta.dirname, "../../..");
/** The SDK entry, read from the TypeDoc config: the reference and this test cover the same file. */
const typedoc = JSON.parse(readFileSync(join(root, "typedoc.json"), "utf8")) as {
  entryPoints: string[];
  out: string;
  treatWarningsAsErrors?: boolean;
  validation?: { notDocumented?: boolean };
};
const sdkEntry = join(root, typedoc.entryPoints[0]!);
/** The names a skill author imports the SDK by. */
const sdkImportNames = ["@switchboard/skill-sdk", "switchboard/skills/sdk"];

const scratch = mkdtempSync(join(tmpdir(), "sdk-docs-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("skill SDK reference", () => {
  it("gives every SDK export a doc comment with an example", () => {
    expect(exportDocProblems(sdkEntry)).toEqual([]);
  });

  it("has examples that type-check against the SDK", () => {
    const examples = docExamples(sdkEntry);
    expect(new Set(examples.map((e) => e.name)).size).toBeGreaterThanOrEqual(10);
    for (const result of checkExamples({ entryFile: sdkEntry, examples, importNames: sdkImportNames })) {
      expect(result.errors, `example of ${result.name}`).toEqual([]);
    }
  });

  it("has a README that links to the reference, with examples that type-check", () => {
    const readme = readFileSync(join(root, "skills/sdk/README.md"), "utf8");
    expect(readme).toContain(`](../../${typedoc.out}/index.html)`);
    expect(readme).toContain("npm run docs:sdk");
    const examples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => ({ name: "README", code: m[1]! }));
    expect(examples.length).toBeGreaterThan(0);
    for (const result of checkExamples({ entryFile: sdkEntry, examples, importNames: sdkImportNames })) {
      expect(result.errors, "README example").toEqual([]);
    }
  });

  it("is built by npm test, and TypeDoc fails on a warning or an undocumented member", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts["docs:sdk"]).toMatch(/^typedoc\b/);
    expect(pkg.scripts.test).toContain("npm run docs:sdk");
    expect(typedoc.treatWarningsAsErrors).toBe(true);
    expect(typedoc.validation?.notDocumented).toBe(true);
  });

  it("names each export without a doc comment or an example, re-exports included", () => {
    writeFileSync(
      join(scratch, "other.ts"),
      "export function helper(): void {}\n/** Documented elsewhere.\n * @example\n * ```ts\n * x;\n * ```\n */\nexport const shared = 1;\n",
    );
    writeFileSync(
      join(scratch, "index.ts"),
      [
        "/**",
        " * Documented, with an example.",
        " * @example",
        " * ```ts",
        " * good();",
        " * ```",
        " */",
        "export function good(): void {}",
        "export function bare(): void {}",
        "/** Documented, no example. */",
        "export interface NoExample { a: string }",
        "// A line comment is not a doc comment.",
        "export type Plain = string;",
        'export { helper, shared } from "./other.ts";',
        "",
      ].join("\n"),
    );
    expect(exportDocProblems(join(scratch, "index.ts"))).toEqual([
      { name: "bare", problem: "no doc comment" },
      { name: "NoExample", problem: "no @example" },
      { name: "Plain", problem: "no doc comment" },
      { name: "helper", problem: "no doc comment" },
    ]);
  });

  it("reports an example that does not type-check against the SDK", () => {
    const [result] = checkExamples({
      entryFile: sdkEntry,
      examples: [
        {
          name: "synthetic",
          code: 'import { defineSkill } from "@switchboard/skill-sdk";\nexport default defineSkill({ commands: { x: (ctx) => ctx.storage.put("k", 1) } });\n',
        },
      ],
      importNames: sdkImportNames,
    });
    expect(result!.errors.join("\n")).toMatch(/Property 'put' does not exist/);
  });
});
