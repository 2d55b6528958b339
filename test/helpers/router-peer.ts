/**
 * A second bot process for scale-out tests: a real bot (no plugins) on the PostgreSQL and Redis given in
 * argv, driven by lines on stdin, answering one JSON line per command on stdout.
 *
 *   npx node test/helpers/router-peer.ts '{"databaseUrl": "...", "redisUrl": "...", "set": {...}}'
 *
 * Commands: `peek <chatKey>` (the cached policy: `{"peek": policy | null}`, null when not cached), `load <chatKey>`
 * (`{"policy": …}`), `burst <userId> <chatId> <count> <deliveryPrefix>` (that many `/whoami` from one user, all in
 * flight: `{"answered": n, "refused": n}`), `quit`.
 */
import { createInterface } from "node:readline";
import { createApp } from "../../bot/app/app.ts";
import { createLogger } from "../../bot/logger.ts";
import { parseConfig, setPath } from "../../config/index.ts";
import { TestAdapter } from "./test-adapter.ts";

const options = JSON.parse(process.argv[2] ?? "{}") as {
  databaseUrl: string;
  redisUrl: string;
  set?: Record<string, unknown>;
};
const raw: Record<string, unknown> = {};
setPath(raw, "http.enabled", false);
setPath(raw, "log.level", "silent");
setPath(raw, "storage.databaseUrl", options.databaseUrl);
setPath(raw, "storage.redisUrl", options.redisUrl);
for (const [k, v] of Object.entries(options.set ?? {})) setPath(raw, k, v);
const adapter = new TestAdapter();
const app = await createApp({
  config: parseConfig(raw),
  console: false,
  platformAdapters: false,
  plugins: false,
  extraAdapters: [adapter],
  log: createLogger({ level: "silent", format: "json" }),
});
await app.start();
const permissions = app.core.permissions as import("../../bot/router/permission-service.ts").CachedPermissionService;
const answer = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
answer({ ready: true });

for await (const line of createInterface({ input: process.stdin })) {
  const [command, ...args] = line.trim().split(" ");
  if (command === "peek") {
    const cached = permissions.peek(args[0]!);
    answer({ peek: cached === undefined ? "none" : cached });
  } else if (command === "load") answer({ policy: (await permissions.policy(args[0]!)) ?? "none" });
  else if (command === "burst") {
    const [userId, chatId, count, prefix] = args as [string, string, string, string];
    const before = adapter.sent.length;
    await Promise.all(
      Array.from({ length: Number(count) }, (_, i) =>
        app.core.router.process(adapter.inbound("/whoami", { userId, chatId, deliveryId: `${prefix}:${i}` })),
      ),
    );
    const texts = adapter.sent.slice(before).map((s) => s.text);
    answer({
      answered: texts.filter((t) => t.includes("Platform:")).length,
      refused: texts.filter((t) => t.includes("too fast")).length,
    });
  } else if (command === "quit") break;
}
await app.stop();
process.exit(0);
