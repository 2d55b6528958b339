#!/usr/bin/env node
// `switchboard-skill`: the skill author's CLI. Checks the Node version before loading anything.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `switchboard-skill needs Node.js >= 22.12 (this is ${process.versions.node}). Install a current Node from https://nodejs.org.\n`,
  );
  process.exit(1);
}
const { main } = await import("./cli.ts");
process.exitCode = await main(process.argv);
