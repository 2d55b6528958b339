/**
 * This tree as users get it, for benchmarks that time the installed package: both packages packed (`npm pack`,
 * which builds them) and installed with `--omit=dev` into an empty folder, on the pinned Node.
 *
 *   const { bin, cwd } = installPacked(dir);   // bin: node_modules/switchboard/bin/switchboard.js
 */
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { ROOT } from "./base-tree.ts";

/** The pinned Node's folder first on PATH: npm then builds and installs for it, as `npm ci` in the clone does. */
export const NODE_PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ""}`;

/** Pack this tree's two packages and install them with `--omit=dev` in `dir`/app, as a user would. */
export function installPacked(dir: string): { bin: string; cwd: string } {
  console.log("packing this tree and installing it with --omit=dev (once) …");
  const env = { ...process.env, PATH: NODE_PATH };
  execFileSync("mkdir", ["-p", dir]);
  const pack = (cwd: string): string => {
    const out = execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd, env, encoding: "utf8" });
    return join(dir, (JSON.parse(out.slice(out.indexOf("["))) as Array<{ filename: string }>)[0]!.filename);
  };
  const tarballs = [pack(join(ROOT, "skills/sdk")), pack(ROOT)];
  const app = join(dir, "app");
  execFileSync("mkdir", ["-p", app]);
  execFileSync("npm", ["init", "-y"], { cwd: app, env, stdio: "ignore" });
  execFileSync("npm", ["install", "--omit=dev", "--no-audit", "--no-fund", ...tarballs], {
    cwd: app,
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  return { bin: join(app, "node_modules/switchboard/bin/switchboard.js"), cwd: app };
}
