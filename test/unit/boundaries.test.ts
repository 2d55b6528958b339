import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (name === "node_modules" || name === "dist" || name === "builtin") continue;
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...files(path));
    else if (/\.(ts|js|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

/** Project-relative targets of a file's relative imports. */
function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const specs = [
    ...text.matchAll(/(?:import|export)\s[^'"]*?from\s+["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/g),
  ].map((m) => m[1] ?? m[2]!);
  return specs.map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)));
}

const top = (path: string) => path.split("/")[0]!;
const COMPOSITION_ROOT = ["bot/app/app.ts", "bot/app/plugins.ts"];

describe("module boundaries", () => {
  it("config/ imports nothing of ours", () => {
    for (const f of files("config")) for (const i of imports(f)) expect(top(i), `${f} → ${i}`).toBe("config");
  });

  it("modules outside bot/ import bot/ only through bot/index.ts", () => {
    for (const dir of ["adapters", "skills", "marketplace", "schedules"]) {
      for (const f of files(dir)) {
        for (const i of imports(f)) {
          if (top(i) === "bot") expect(i, `${f} imports ${i}`).toBe("bot/index.ts");
        }
      }
    }
  });

  it("only the composition root and the CLI in bot/ import adapters/, skills/, marketplace/ or schedules/", () => {
    for (const f of files("bot")) {
      if (COMPOSITION_ROOT.includes(f) || f.startsWith("bot/app/cli/")) continue;
      for (const i of imports(f))
        expect(["adapters", "skills", "marketplace", "schedules"], `${f} imports ${i}`).not.toContain(top(i));
    }
  });

  it("adapters do not import each other", () => {
    for (const f of files("adapters")) {
      const own = f.split("/")[1];
      for (const i of imports(f)) {
        if (top(i) !== "adapters") continue;
        const other = i.split("/")[1];
        expect(other === own || other === "shared" || f === "adapters/index.ts", `${f} imports ${i}`).toBe(true);
      }
    }
  });
});
