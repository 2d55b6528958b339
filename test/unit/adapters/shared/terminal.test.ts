import { describe, expect, it } from "vitest";
import { escapeControls, renderText, terminalDialect } from "../../../../adapters/shared/index.ts";
import { effectiveLogLevel } from "../../../../bot/logger.ts";

const ESC = "\u001b";
const plain = terminalDialect({ ansi: false });
const ansi = terminalDialect({ ansi: true });

describe("the terminal dialect", () => {
  it("drops the markers when piped", () => {
    expect(renderText("**Commands** for `console:local`, see [docs](https://example.com/d)", plain)).toBe(
      "Commands for console:local, see docs (https://example.com/d)",
    );
    expect(renderText("- one\n- _two_", plain)).toBe("- one\n- two");
    expect(renderText("```\nnpm start\n```", plain)).toBe("  npm start");
  });

  it("styles with ANSI in a terminal", () => {
    expect(renderText("Role here: **owner**", ansi)).toBe(`Role here: ${ESC}[1mowner${ESC}[22m`);
    expect(renderText("id `a:b`", ansi)).toBe(`id ${ESC}[7ma:b${ESC}[27m`);
    expect(renderText("- item", ansi)).toBe("• item");
  });

  it("shows control characters in replies instead of sending them to the terminal", () => {
    const hostile = `name ${ESC}]0;owned\u0007 and ${ESC}[2J\u009b`;
    for (const dialect of [plain, ansi]) {
      const out = renderText(`hello ${hostile} \`${hostile}\``, dialect, "markdown");
      expect(out).not.toContain(`${ESC}]`);
      expect(out).not.toContain(`${ESC}[2J`);
      expect(out).not.toContain("\u0007");
      expect(out).not.toContain("\u009b");
    }
    expect(escapeControls(`a${ESC}[2Jb\u0007\tc`)).toBe("a^[[2Jb^G\tc");
    expect(renderText(`plain ${ESC}[31m`, plain, "plain")).toBe("plain ^[[31m");
  });
});

describe("the log level beside an interactive console", () => {
  it("is raised to interactiveLevel only when the log shares the console's terminal", () => {
    const base = { level: "info", format: "pretty" as const, interactiveLevel: "warn" };
    expect(effectiveLogLevel({ ...base, interactive: true })).toBe("warn");
    expect(effectiveLogLevel({ ...base, interactive: false })).toBe("info");
    expect(effectiveLogLevel({ ...base, interactive: true, file: "/tmp/x.log" })).toBe("info");
    expect(effectiveLogLevel({ ...base, level: "error", interactive: true })).toBe("error");
    expect(effectiveLogLevel({ ...base, interactiveLevel: "debug", level: "debug", interactive: true })).toBe("debug");
  });
});
