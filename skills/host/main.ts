/**
 * Entry of the skill-host child process (forked by the supervisor with `--no-node-snapshot`, a stripped
 * environment and, by default, Node's permission model). It holds the isolates, answers `call` messages, and asks
 * the bot for every capability over IPC. It exits when the bot process goes away.
 */
import { IsolatePool } from "./isolates.ts";
import { type FromHost, RSS_CAP_MARK, type ToHost } from "./protocol.ts";

const send = (message: FromHost): void => {
  if (process.connected) process.send!(message);
};

let nextCapId = 1;
const pendingCaps = new Map<number, (result: string) => void>();

const pool = new IsolatePool(
  (callId, name, args) =>
    new Promise<string>((resolve) => {
      const capId = nextCapId++;
      pendingCaps.set(capId, resolve);
      send({ t: "cap", id: callId, capId, name, args });
    }),
);

pool.onRefused = (id, count) => send({ t: "refused", id, count });

process.on("message", (raw: unknown) => {
  const message = raw as ToHost;
  switch (message.t) {
    case "load":
      pool.load(message.spec);
      break;
    case "unload":
      pool.unload(message.key);
      break;
    case "warm":
      pool.warm();
      break;
    case "call":
      void pool
        .call(message.id, message.key, {
          chatKey: message.chatKey,
          kind: message.kind,
          name: message.name,
          input: message.input,
          ...(message.budgetMs === undefined ? {} : { budgetMs: message.budgetMs }),
        })
        .then((outcome) => {
          send(
            outcome.ok
              ? { t: "result", id: message.id, ok: true, value: outcome.value, cold: outcome.cold }
              : {
                  t: "result",
                  id: message.id,
                  ok: false,
                  failure: outcome.failure,
                  message: outcome.message,
                  cold: outcome.cold,
                },
          );
        });
      break;
    case "cancel":
      pool.cancel(message.id);
      break;
    case "cap-result": {
      const resolve = pendingCaps.get(message.capId);
      pendingCaps.delete(message.capId);
      resolve?.(message.result);
      break;
    }
    case "stats":
      void pool.statsAsync().then((value) => send({ t: "stats", id: message.id, value }));
      break;
  }
});

process.on("disconnect", () => process.exit(0));

// The resident-size watchdog: isolated-vm's memory limit is checked at garbage collection, so one huge
// allocation can take the process far past it before the isolate is stopped. The isolates run on their own
// threads, so this timer keeps firing while one of them allocates; past the cap the host leaves, and only the
// skills placed in it lose their calls.
const maxRssBytes = Number(process.argv[2] ?? "0") * 1_048_576;
if (maxRssBytes > 0) {
  setInterval(() => {
    const rss = process.memoryUsage.rss();
    if (rss <= maxRssBytes) return;
    // stderr on a pipe is written synchronously, so the bot reads this line before it sees the process go.
    process.stderr.write(`skill host: ${Math.round(rss / 1_048_576)} MB resident ${RSS_CAP_MARK}; stopping\n`);
    // At once: process.exit() tears Node down while the runaway isolate's thread still runs, which took another
    // 0.6 s of that allocation and ended in SIGSEGV (measured with a 60 M-slot fill under a 160 MB cap).
    process.kill(process.pid, "SIGKILL");
  }, 25).unref();
}
send({ t: "ready", pid: process.pid });
