import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { checkBoundaries, describeViolation, importsOf, sourceFiles, wholeCoreUses } from "../helpers/boundaries.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const SOURCE_DIRS = ["bot", "config", "adapters", "skills", "marketplace", "schedules", "llm", "gateway", "hooks"];

describe("module boundaries", () => {
  it("hold across the tree: config/ and the skill SDK are leaves, modules use bot/index.ts, only bot/app/ wires", () => {
    const files = sourceFiles(ROOT, SOURCE_DIRS);
    expect(files.length).toBeGreaterThan(100);
    expect(checkBoundaries(files).map(describeViolation)).toEqual([]);
  });

  it("nothing imports the composition root back", () => {
    const files = sourceFiles(ROOT, SOURCE_DIRS).filter((f) => !f.path.startsWith("bot/app/"));
    const back = files.flatMap((f) =>
      importsOf(f.path, f.text)
        .filter((i) => i.target?.startsWith("bot/app/"))
        .map((i) => `${f.path} → ${i.specifier}`),
    );
    expect(back).toEqual([]);
  });
});

describe("declared services", () => {
  // A module takes the services it declares (`*_NEEDS` → `ServicesOf`, picked by the composition root), or a
  // `Pick<Core, …>`, never the whole bag. Exempt: the adapter list, which does the picking for the platforms, and
  // the operator CLIs (`cli.ts`, the author kit), which open a whole app for one command.
  const isExempt = (path: string): boolean =>
    path === "adapters/index.ts" || path.endsWith("/cli.ts") || path.startsWith("marketplace/author/");

  it("no module outside bot/ takes the whole Core", () => {
    const files = sourceFiles(
      ROOT,
      SOURCE_DIRS.filter((d) => d !== "bot"),
    ).filter((f) => !isExempt(f.path));
    expect(files.length).toBeGreaterThan(100);
    const uses = files.flatMap((f) => wholeCoreUses(f.path, f.text)).map((u) => `${u.file}:${u.line} ${u.name}`);
    expect(uses).toEqual([]);
  });

  it("finds parameters and properties typed Core, and lets Pick<Core, …> and Core[…] through", () => {
    const text = [
      "export function make(core: Core, other: Pick<Core, 'log'>): void {}",
      "class A { readonly #core: Core; constructor(c: Core['config']) {} }",
      "interface B { core: Core; log: Core['log'] }",
      "const f = (services: ServicesOf<typeof NEEDS>, core?: Core) => services;",
    ].join("\n");
    expect(wholeCoreUses("adapters/x/y.ts", text).map((u) => `${u.line} ${u.name}`)).toEqual([
      "1 core",
      "2 #core",
      "3 core",
      "4 core",
    ]);
  });
});

describe("the boundary checker", () => {
  it("reads static, type-only, re-exported, dynamic and type-position imports", () => {
    const text = [
      'import { a } from "./a.ts";',
      'import type { B } from "../bot/index.ts";',
      'export { c } from "./c.ts";',
      'export * from "./d.ts";',
      'const e = await import("./e.ts");',
      'type F = import("./f.ts").F;',
      'import g = require("./g.cjs");',
      'import h from "pino";',
      "const i = await import(somewhere);",
      '// import { j } from "./j.ts";',
      "const k = \"import { k } from './k.ts'\";",
    ].join("\n");
    const refs = importsOf("llm/x.ts", text);
    expect(refs.map((r) => [r.kind, r.target ?? r.specifier])).toEqual([
      ["static", "llm/a.ts"],
      ["type", "bot/index.ts"],
      ["export", "llm/c.ts"],
      ["export", "llm/d.ts"],
      ["dynamic", "llm/e.ts"],
      ["type", "llm/f.ts"],
      ["require", "llm/g.cjs"],
      ["static", "pino"],
    ]);
  });

  it("catches each kind of violation in synthetic files", () => {
    const files = [
      { path: "config/x.ts", text: 'import type { Core } from "../bot/index.ts";' },
      { path: "skills/sdk/x.ts", text: 'export { SwitchboardError } from "../../bot/index.ts";' },
      { path: "skills/sdk/y.ts", text: 'import type { Core } from "switchboard";' },
      { path: "llm/x.ts", text: 'const m = await import("../bot/core.ts");' },
      { path: "llm/y.ts", text: 'import type { CliContext } from "../bot/app/cli/context.ts";' },
      { path: "bot/router/x.ts", text: 'import { createApp } from "../app/app.ts";' },
      { path: "bot/x.ts", text: 'import { createLlmPlugin } from "../llm/index.ts";' },
      { path: "schedules/x.ts", text: 'type T = import("../skills/index.ts").SkillsPlugin;' },
      { path: "adapters/slack/x.ts", text: 'import { TelegramAdapter } from "../telegram/adapter.ts";' },
      { path: "skills/builtin/dice/src/x.ts", text: 'import { Router } from "../../../../bot/index.ts";' },
    ];
    const found = checkBoundaries(files).map((v) => `${v.file} ${v.import.kind}`);
    expect(found).toEqual([
      "config/x.ts type",
      "skills/sdk/x.ts export",
      "skills/sdk/y.ts type",
      "llm/x.ts dynamic",
      "llm/y.ts type",
      "bot/router/x.ts static",
      "bot/x.ts static",
      "schedules/x.ts type",
      "adapters/slack/x.ts static",
      "skills/builtin/dice/src/x.ts static",
    ]);
  });

  it("lets allowed imports through", () => {
    const files = [
      { path: "bot/app/app.ts", text: 'import { adapterFactories } from "../../adapters/index.ts";' },
      { path: "llm/x.ts", text: 'import type { Config } from "../config/index.ts";\nimport { z } from "zod";' },
      { path: "adapters/slack/x.ts", text: 'import { renderReply } from "../shared/index.ts";' },
      { path: "marketplace/x.ts", text: 'import { parseManifest } from "../skills/manifest.ts";' },
      { path: "skills/builtin/dice/src/x.ts", text: 'import { defineSkill } from "../../../sdk/index.ts";' },
    ];
    expect(checkBoundaries(files)).toEqual([]);
  });
});
