/** The committed bundles of the built-in skills are what their SDK sources build to. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bundleSkill } from "../../../skills/builtin/build.ts";
import { BUILTIN_DIR } from "../../../skills/index.ts";

describe("built-in skill bundles", () => {
  const out = mkdtempSync(join(tmpdir(), "sb-bundles-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it.each(["dice", "poll", "remind", "httpcheck"])(
    "%s: dist/index.js matches a fresh build of src/ (run skills/builtin/build.ts after editing)",
    async (name) => {
      const fresh = await bundleSkill(join(BUILTIN_DIR, name), join(out, `${name}.js`));
      expect(readFileSync(join(BUILTIN_DIR, name, "dist", "index.js"), "utf8")).toBe(readFileSync(fresh, "utf8"));
    },
  );

  it("bundles set the global the runtime reads, with no imports left", () => {
    const code = readFileSync(join(BUILTIN_DIR, "dice", "dist", "index.js"), "utf8");
    const skill = new Function(`${code}; return skill;`)() as {
      default: { commands: { dice: (ctx: unknown) => string } };
    };
    expect(skill.default.commands.dice({ rawArgs: "1d2+2", args: ["1d2+2"] })).toMatch(
      /^🎲 1d2\+2: [12] \+ 2 = \*\*[34]\*\*$/,
    );
    expect(code).not.toMatch(/\brequire\(|^import /m);
  });
});
