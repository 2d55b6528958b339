#!/usr/bin/env node
// Switchboard's command line. In a clone of the repository it runs the TypeScript sources on the Node pinned in
// devDependencies (`npm start`, `npx switchboard`); in the installed package, which ships no sources, it runs the
// JavaScript built into dist/, bundled in dist/cli/ (scripts/build.ts). An older Node gets a clear message
// instead of a stack.
import { existsSync } from "node:fs";

const CLI = "bot/app/cli/main";
const isClone = existsSync(new URL(`../${CLI}.ts`, import.meta.url));
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `Switchboard needs Node.js >= 22.12 (this is ${process.versions.node}).\n` +
      (isClone
        ? "Run it through npm, which uses the Node pinned in the project: `npm start`, or `npx switchboard <command>`.\n"
        : "Install Node.js 22.12 or newer (https://nodejs.org) and run switchboard again.\n"),
  );
  process.exit(1);
}
// `--version` alone needs nothing but package.json: answer it before loading the CLI and every module behind it.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  const { readFileSync } = await import("node:fs");
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  process.stdout.write(`${pkg.version}\n`);
  process.exit(0);
}
// The long-running bot gets a small young generation: V8's default semi-space (16 MB each) keeps about 30 MB
// resident for short-lived garbage that a chat bot makes little of. Measured with test/bench/footprint.ts: idle
// RSS with three adapters 172 → 142 MB; the router bench loses about a tenth of its throughput per CPU second and
// stays above its target. A `--max-semi-space-size` in NODE_OPTIONS or on the command line wins.
const LEAN_HEAP = "--max-semi-space-size=2";
const wantsLeanHeap =
  args[0] === "start" &&
  !process.execArgv.some((a) => a.startsWith("--max-semi-space-size")) &&
  !(process.env.NODE_OPTIONS ?? "").includes("--max-semi-space-size");
// The embedded store is node:sqlite, unflagged from Node 22.13; on 22.12 run again with the flag.
if (major === 22 && minor < 13 && !process.execArgv.includes("--experimental-sqlite")) {
  const { spawnSync } = await import("node:child_process");
  const result = spawnSync(
    process.execPath,
    [
      ...process.execArgv,
      ...(wantsLeanHeap ? [LEAN_HEAP] : []),
      "--experimental-sqlite",
      "--disable-warning=ExperimentalWarning",
      ...process.argv.slice(1),
    ],
    { stdio: "inherit" },
  );
  process.exit(result.status ?? 1);
}
// Where Node can replace the process in place (22.15+, 23.11+, not Windows), the pid, stdio and signals stay.
if (wantsLeanHeap && typeof process.execve === "function") {
  process.execve(process.execPath, [process.execPath, ...process.execArgv, LEAN_HEAP, ...process.argv.slice(1)]);
}
if (!isClone) {
  // Node keeps the compiled code of the bundle on disk (in the OS temp folder) and reuses it on the next start:
  // no parse and compile of the same files again. NODE_DISABLE_COMPILE_CACHE=1 turns it off.
  const { enableCompileCache } = await import("node:module");
  enableCompileCache?.();
}
if (isClone) {
  // The clone runs the skill SDK workspace from its sources (its `switchboard-source` export condition), also
  // when started without npm's NODE_OPTIONS (.npmrc).
  const { registerHooks } = await import("node:module");
  registerHooks?.({
    resolve: (specifier, context, next) =>
      next(specifier, { ...context, conditions: [...(context.conditions ?? []), "switchboard-source"] }),
  });
}
const { main } = await import(isClone ? `../${CLI}.ts` : "../dist/cli/main.js");
const code = await main(process.argv);
process.exitCode = code;
// A failed command exits now, whatever it left open or busy (a store, a socket): a supervisor sees the failure
// at once. Its message is already written (stderr on a pipe or file is synchronous).
if (code !== 0) process.exit(code);
