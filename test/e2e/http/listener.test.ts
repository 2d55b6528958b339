/**
 * The shared listener on Fastify: raw routes get the exact bytes, bodies past the limit are refused, declared
 * routes are validated from their zod schemas and listed in the OpenAPI document, a busy port fails at once,
 * the bound port answers 503 until the server is built, and a console-only bot never loads Fastify.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { HttpListener } from "../../../bot/http/listener.ts";
import { defineRoute } from "../../../bot/http/routes.ts";
import { createLogger } from "../../../bot/logger.ts";
import { startTestBot, type TestBot } from "../../helpers/app.ts";

const log = createLogger({ level: "silent", format: "json" });
const ROOT = resolve(import.meta.dirname, "../../..");
let open: HttpListener | undefined;
let bot: TestBot | undefined;

afterEach(async () => {
  await open?.close();
  open = undefined;
  await bot?.stop();
  bot = undefined;
});

async function listener(mount: (http: HttpListener) => void, maxBodyBytes = 1024): Promise<string> {
  open = new HttpListener({ log, maxBodyBytes });
  mount(open);
  const address = await open.listen("127.0.0.1", 0);
  await open.serve();
  return `http://127.0.0.1:${address.port}`;
}

describe("HTTP listener", () => {
  it("hands a raw route the exact bytes and headers, whatever the content type", async () => {
    const seen: { body: string; sig: unknown; query: string }[] = [];
    const base = await listener((http) =>
      http.route("POST", "/hook", async (req) => {
        seen.push({ body: req.rawBody.toString("utf8"), sig: req.headers["x-sig"], query: req.query.toString() });
        return { status: 202, headers: { "x-answer": "yes" }, body: "taken" };
      }),
    );
    const body = '{ "b":1,  "a":2 }';
    for (const type of ["application/json", "application/x-www-form-urlencoded", "text/plain"]) {
      const res = await fetch(`${base}/hook?x=1`, {
        method: "POST",
        headers: { "content-type": type, "x-sig": "s1" },
        body,
      });
      expect(res.status).toBe(202);
      expect(res.headers.get("x-answer")).toBe("yes");
      expect(await res.text()).toBe("taken");
    }
    expect(seen).toEqual(Array(3).fill({ body, sig: "s1", query: "x=1" }));
  });

  it("refuses a body over the limit with 413 and never calls the handler", async () => {
    let calls = 0;
    const base = await listener((http) =>
      http.route("POST", "/hook", async () => {
        calls++;
        return { status: 200 };
      }),
    );
    const res = await fetch(`${base}/hook`, { method: "POST", body: "x".repeat(2048) });
    expect(res.status).toBe(413);
    expect(calls).toBe(0);
    expect((await fetch(`${base}/hook`, { method: "POST", body: "x".repeat(1000) })).status).toBe(200);
  });

  it("validates a declared route from its schema, answers 404 elsewhere, and documents it in /api/openapi.json", async () => {
    const base = await listener((http) =>
      http.api(
        defineRoute({
          method: "POST",
          url: "/api/echo/:name",
          summary: "Echo a count",
          tags: ["test"],
          access: "public",
          schema: {
            params: z.object({ name: z.string().min(2) }),
            body: z.object({ count: z.number().int().max(10) }),
            response: { 200: z.object({ name: z.string(), twice: z.number() }) },
          },
          handler: async ({ params, body }) => ({
            status: 200,
            body: { name: params.name, twice: body.count * 2, dropped: "not in the schema" },
          }),
        }),
      ),
    );
    const post = (name: string, body: unknown) =>
      fetch(`${base}/api/echo/${name}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const ok = await post("ab", { count: 4 });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ name: "ab", twice: 8 });
    const bad = await post("ab", { count: 11 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe("E_BAD_ARGS");
    expect((await post("a", { count: 1 })).status).toBe(400);
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
    const doc = (await (await fetch(`${base}/api/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: unknown; summary?: string }>>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.paths["/api/echo/{name}"]?.post?.summary).toBe("Echo a count");
    expect(JSON.stringify(doc.paths["/api/echo/{name}"]?.post?.requestBody)).toContain('"maximum":10');
  });

  it("answers 503 on the bound port until the server is built", async () => {
    open = new HttpListener({ log, maxBodyBytes: 1024 });
    const { port } = await open.listen("127.0.0.1", 0);
    const before = await fetch(`http://127.0.0.1:${port}/anything`);
    expect(before.status).toBe(503);
    open.route("GET", "/late", async () => ({ status: 200, body: "here" }));
    await open.serve();
    expect(await (await fetch(`http://127.0.0.1:${port}/late`)).text()).toBe("here");
    expect(() => open!.route("GET", "/later", async () => ({ status: 200 }))).toThrow(/after the server started/);
  });

  it("fails at once on a busy port with the key to change", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      open = new HttpListener({ log, maxBodyBytes: 1024 });
      await expect(open.listen("127.0.0.1", port)).rejects.toThrow(/already in use; set http\.port/);
    } finally {
      blocker.close();
    }
  });

  it("serves /healthz, /readyz and /metrics on a bot and lists them in the OpenAPI document", async () => {
    bot = await startTestBot();
    const { port } = bot.app.httpAddress()!;
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/healthz`)).text()).toBe("ok");
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { ready: boolean }).ready).toBe(true);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await metrics.text()).toMatch(/^# HELP /m);
    const doc = (await (await fetch(`${base}/api/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/healthz", "/readyz", "/metrics"]));
  });

  it("a console-only bot opens no listener and loads neither Fastify nor the admin API's routes; one listening does", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "sb-lazy-http-"));
    try {
      const off = startConsoleBot({}, dataDir) as { address: unknown; loaded: string[] };
      expect(off).toEqual({ address: null, loaded: [] });
      const on = startConsoleBot({ enabled: true, port: 0 }, dataDir) as { address: unknown; loaded: string[] };
      expect(on.address).not.toBeNull();
      expect(on.loaded).toEqual(
        expect.arrayContaining(["fastify", "./auth-routes.ts", "./chat-routes.ts", "./api.ts"]),
      );
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

/** Start and stop a console bot with every default plugin in a fresh process; what it loaded of the HTTP side. */
function startConsoleBot(http: unknown, dataDir: string): unknown {
  const script = `
    import { registerHooks } from "node:module";
    const seen = new Set();
    registerHooks({ resolve(specifier, context, next) {
      if (/fastify|auth-routes|chat-routes|\\/api\\.ts$/.test(specifier)) seen.add(specifier);
      return next(specifier, context);
    } });
    const { createApp } = await import(${JSON.stringify(resolve(ROOT, "bot/app/app.ts"))});
    const { parseConfig } = await import(${JSON.stringify(resolve(ROOT, "config/index.ts"))});
    const { memoryStore } = await import(${JSON.stringify(resolve(ROOT, "bot/storage/open.ts"))});
    const { PassThrough } = await import("node:stream");
    const config = parseConfig({ log: { level: "silent" }, bot: { dataDir: ${JSON.stringify(dataDir)} }, http: ${JSON.stringify(http)} });
    const app = await createApp({ config, platformAdapters: false, store: await memoryStore(),
      console: { input: new PassThrough(), output: new PassThrough(), interactive: false } });
    await app.start();
    console.log(JSON.stringify({ address: app.httpAddress() ?? null, loaded: [...seen] }));
    await app.stop();
    process.exit(0);
  `;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 90_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!);
}
