#!/usr/bin/env node
// Switchboard's command line. Runs on the Node pinned in devDependencies when started through npm
// (`npm start`, `npx switchboard`); a system Node older than 22.12 gets a clear message instead of a stack.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `Switchboard needs Node.js >= 22.12 (this is ${process.versions.node}).\n` +
      "Run it through npm, which uses the Node pinned in the project: `npm start`, or `npx switchboard <command>`.\n",
  );
  process.exit(1);
}
const { main } = await import("../bot/cli/main.ts");
const code = await main(process.argv);
process.exitCode = code;
// A failed command exits now, whatever it left open or busy (a store, a socket): a supervisor sees the failure
// at once. Its message is already written (stderr on a pipe or file is synchronous).
if (code !== 0) process.exit(code);
