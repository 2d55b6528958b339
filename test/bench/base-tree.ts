/**
 * The tree a paired benchmark compares against: a `git worktree` of a base commit (default: where this branch
 * left main), sharing this tree's `node_modules` through a link (the dependencies are the same), made once.
 *
 *   const base = ensureBaseTree();   // { dir, commit }
 */
import { execFileSync } from "node:child_process";
import { existsSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** This repository's root. */
export const ROOT = resolve(import.meta.dirname, "../..");

/** The base commit: `BENCH_BASE` if set, else the merge base with `main`. */
export function baseCommit(): string {
  const named = process.env.BENCH_BASE ?? "";
  const ref = named !== "" ? named : git(["merge-base", "HEAD", "main"]);
  return git(["rev-parse", "--short", ref]);
}

function git(args: string[]): string {
  return execFileSync("git", ["-C", ROOT, ...args], { encoding: "utf8" }).trim();
}

/** A worktree of the base commit with this tree's `node_modules` linked in; made on first use. */
export function ensureBaseTree(): { dir: string; commit: string } {
  const commit = baseCommit();
  const dir = join(tmpdir(), `switchboard-base-${commit}`);
  if (!existsSync(join(dir, "package.json"))) {
    execFileSync("git", ["-C", ROOT, "worktree", "add", "--detach", dir, commit], { stdio: "ignore" });
  }
  if (!existsSync(join(dir, "node_modules"))) symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return { dir, commit };
}

/** The median of a list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
