#!/usr/bin/env node
// Switchboard's command line. In a clone of the repository it runs the TypeScript sources on the Node pinned in
// devDependencies (`npm start`, `npx switchboard`); in the installed package, which ships no sources, it runs the
// JavaScript built into dist/ (scripts/build.ts). An older Node gets a clear message instead of a stack.
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
if (isClone) {
  // The clone runs the skill SDK workspace from its sources (its `switchboard-source` export condition), also
  // when started without npm's NODE_OPTIONS (.npmrc).
  const { registerHooks } = await import("node:module");
  registerHooks?.({
    resolve: (specifier, context, next) =>
      next(specifier, { ...context, conditions: [...(context.conditions ?? []), "switchboard-source"] }),
  });
}
const { main } = await import(isClone ? `../${CLI}.ts` : `../dist/${CLI}.js`);
process.exitCode = await main(process.argv);
