/**
 * A real Verdaccio for tests: started in this process on 127.0.0.1:0 with no uplinks (nothing leaves the
 * machine), storage and htpasswd in a temp folder, a user created over the registry API, and packages published
 * with the real `npm publish` CLI (per-package `.npmrc`, `--ignore-scripts`).
 */
import { execFile } from "node:child_process";
import { mkdtemp, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import type { Dirent } from "node:fs";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A running registry. */
export interface TestRegistry {
  /** `http://127.0.0.1:PORT/` (trailing slash, as npm writes registries). */
  readonly url: string;
  /** A token of the created user, valid for publishing. */
  readonly token: string;
  /** Folder Verdaccio stores packages in (tests tamper with tarballs here). */
  readonly storageDir: string;
  /** Publish a package folder (or a `.tgz` file) with the npm CLI. */
  publish(pathOrTarball: string, options?: { tag?: string }): Promise<void>;
  /** The stored tarball of `name@version` on disk. */
  tarballPath(name: string, version: string): string;
  close(): Promise<void>;
}

/**
 * Start a registry. `user`/`password` name the account that publishes; packages under `privateScope`
 * (`@team`) can be read only with a token.
 */
export async function startRegistry(
  options: { user?: string; password?: string; privateScope?: string } = {},
): Promise<TestRegistry> {
  const user = options.user ?? "author";
  const password = options.password ?? "s3cret-pass";
  const root = await mkdtemp(join(tmpdir(), "sb-verdaccio-"));
  const storageDir = join(root, "storage");
  await mkdir(storageDir, { recursive: true });
  const configPath = join(root, "config.yaml");
  await writeFile(
    configPath,
    [
      `storage: ${JSON.stringify(storageDir)}`,
      `plugins: ${JSON.stringify(join(root, "plugins"))}`,
      "auth:",
      "  htpasswd:",
      `    file: ${JSON.stringify(join(root, "htpasswd"))}`,
      "    max_users: 100",
      "uplinks: {}",
      "packages:",
      ...(options.privateScope === undefined
        ? []
        : [
            `  '${options.privateScope}/*':`,
            "    access: $authenticated",
            "    publish: $authenticated",
            "    unpublish: $authenticated",
          ]),
      "  '**':",
      "    access: $all",
      "    publish: $authenticated",
      "    unpublish: $authenticated",
      "web:",
      "  enable: false",
      "log: { type: stdout, format: pretty, level: fatal }",
      "max_body_size: 50mb",
      "",
    ].join("\n"),
  );
  const { runServer } = await import("verdaccio");
  const app = (await runServer(configPath)) as unknown as Server;
  await new Promise<void>((resolve, reject) => {
    app.once("error", reject);
    app.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (app.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/`;
  const res = await fetch(`${url}-/user/org.couchdb.user:${user}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: user, password, type: "user", roles: [], date: new Date().toISOString() }),
  });
  if (res.status !== 201) throw new Error(`verdaccio: creating user failed with ${res.status}: ${await res.text()}`);
  const { token } = (await res.json()) as { token: string };
  const npmrc = join(root, ".npmrc");
  await writeFile(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`);
  const cacheDir = join(root, "npm-cache");

  return {
    url,
    token,
    storageDir,
    async publish(pathOrTarball, publishOptions = {}) {
      const args = [
        "publish",
        pathOrTarball,
        "--registry",
        url,
        "--userconfig",
        npmrc,
        "--ignore-scripts",
        "--access",
        "public",
      ];
      if (publishOptions.tag !== undefined) args.push("--tag", publishOptions.tag);
      try {
        await run("npm", args, {
          cwd: root,
          env: {
            PATH: process.env.PATH ?? "",
            HOME: root,
            npm_config_cache: cacheDir,
            npm_config_update_notifier: "false",
            npm_config_audit: "false",
            npm_config_fund: "false",
            npm_config_provenance: "false",
          },
          timeout: 60_000,
        });
      } catch (error) {
        const e = error as { stderr?: string; message: string };
        throw new Error(`npm publish ${pathOrTarball} failed: ${e.stderr ?? e.message}`);
      }
    },
    tarballPath(name, version) {
      const base = name.includes("/") ? name.split("/")[1]! : name;
      return join(storageDir, name, `${base}-${version}.tgz`);
    },
    async close() {
      await new Promise<void>((resolve) => {
        app.closeAllConnections?.();
        app.close(() => resolve());
      });
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Files in a folder, recursively (for asserting nothing was written). */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string, prefix: string): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const rel = prefix === "" ? e.name : `${prefix}/${e.name}`;
      if (e.isDirectory()) await walk(join(d, e.name), rel);
      else out.push(rel);
    }
  }
  await walk(dir, "");
  return out.sort();
}
