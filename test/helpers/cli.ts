/** Run `switchboard <args>` in this process through the real commander program, capturing its output. */
import { PassThrough } from "node:stream";
import { createCliContext, type CliContext } from "../../bot/app/cli/context.ts";
import { buildProgram } from "../../bot/app/cli/main.ts";
import { isSwitchboardError } from "../../bot/index.ts";

/** What one CLI run printed and its exit code, with the context it ran in (to open the same app afterwards). */
export interface CliResult {
  code: number;
  out: string;
  err: string;
  ctx: CliContext;
}

/** Run one CLI command against `configFile` (and `env`, default empty). A thrown error is exit code 1, on stderr. */
export async function runCli(
  args: string[],
  options: { configFile?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const out = new PassThrough();
  const err = new PassThrough();
  let outText = "";
  let errText = "";
  out.on("data", (c: Buffer) => (outText += c.toString()));
  err.on("data", (c: Buffer) => (errText += c.toString()));
  const ctx = createCliContext({ configFile: () => options.configFile, out, err, env: options.env ?? {} });
  const program = await buildProgram(ctx, {});
  process.exitCode = undefined;
  let code = 0;
  try {
    await program.parseAsync(["node", "switchboard", ...args]);
    code = typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    code = 1;
    errText += isSwitchboardError(error) ? `${error.chatMessage}\n${error.message}\n` : `${(error as Error).message}\n`;
  } finally {
    process.exitCode = undefined;
  }
  return { code, out: outText, err: errText, ctx };
}
