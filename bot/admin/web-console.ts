/**
 * The web console's files (`web/dist/`, built by Vite and committed), served at `/console/` by the bot's
 * listener. Every page path answers `index.html` (the app routes in the browser); `/console/assets/<name>`
 * answers a built file, content-hashed and so cached for a year. A file is read on its first request and kept:
 * the set is the build's few files, fixed while the bot runs.
 *
 * Every answer carries a strict Content-Security-Policy: scripts, styles and requests from this origin only, no
 * inline script or style, no framing, no plugins. Chat titles and messages are rendered as text by the app, so
 * `<script>` or a `javascript:` URL in them stays inert even before the policy.
 */
import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { HttpHandler } from "../model.ts";

/** Where the built console is: `web/dist` in a clone, `dist/web/dist` in the installed package. */
export const WEB_DIST_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "web", "dist");

/** The policy every console answer carries. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".html": "text/html; charset=utf-8",
};

/** The console's routes: `GET /console` (redirect), `GET /console/*`. */
export function webConsoleRoutes(dir: string = WEB_DIST_DIR): { method: "GET"; path: string; handler: HttpHandler }[] {
  // Names of the built assets, listed once; nothing outside this set is ever read.
  let assets: Set<string> | undefined;
  const files = new Map<string, Buffer>();
  const read = async (name: string): Promise<Buffer> => {
    let body = files.get(name);
    if (body === undefined) {
      body = await readFile(join(dir, name));
      files.set(name, body);
    }
    return body;
  };
  const missing = {
    status: 503,
    headers: { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8" },
    body: "The web console is not built: run `npx vite build --config web/vite.config.ts`.",
  };
  const handler: HttpHandler = async (req) => {
    if (!existsSync(join(dir, "index.html"))) return missing;
    assets ??= new Set(existsSync(join(dir, "assets")) ? readdirSync(join(dir, "assets")) : []);
    const asset = /^\/console\/assets\/([A-Za-z0-9._-]+)$/.exec(req.path)?.[1];
    if (asset !== undefined) {
      if (!assets.has(asset))
        return { status: 404, headers: { ...SECURITY_HEADERS, "content-type": "text/plain" }, body: "not found" };
      return {
        status: 200,
        headers: {
          ...SECURITY_HEADERS,
          "content-type": TYPES[extname(asset)] ?? "application/octet-stream",
          "cache-control": "public, max-age=31536000, immutable",
        },
        body: await read(join("assets", asset)),
      };
    }
    return {
      status: 200,
      headers: { ...SECURITY_HEADERS, "content-type": TYPES[".html"]!, "cache-control": "no-cache" },
      body: await read("index.html"),
    };
  };
  return [
    {
      method: "GET",
      path: "/console",
      handler: async () => ({ status: 308, headers: { ...SECURITY_HEADERS, location: "/console/" }, body: "" }),
    },
    { method: "GET", path: "/console/*", handler },
  ];
}
