/**
 * Entry of the skill-host spawner: a small child process of the bot that forks the hosts of their own and relays
 * their messages. It runs no skill code and holds no secrets (an empty environment, Node's permission model when
 * the hosts have it).
 *
 * Why it exists: a fork blocks the forking process. Measured on the 2-core test machines, `child_process.fork`
 * held the calling thread 4–12 ms (16 ms with both cores busy) whatever the caller's size, and a fork from a
 * worker thread still stalled the main thread up to 6 ms; after a fork, the forking process also takes a
 * write-protect fault on each page it next writes. A skill that crashes its host again and again made the bot
 * pay that on every restart, in every chat's latency (test/bench/sandbox.ts, the 60 M-slot allocation). Forked
 * here, the bot's event loop never waits for a fork once the shared hosts are up.
 *
 * It exits when the bot goes away (IPC disconnect), and its hosts with it (theirs disconnects in turn).
 */
import type { ChildProcess } from "node:child_process";
import { forkHostProcess } from "./fork.ts";
import type { FromSpawner, ToSpawner } from "./protocol.ts";

const hosts = new Map<number, ChildProcess>();

const send = (message: FromSpawner): void => {
  if (process.connected) process.send!(message);
};

function spawnHost(request: Extract<ToSpawner, { t: "spawn" }>): void {
  const { id } = request;
  let child: ChildProcess;
  try {
    child = forkHostProcess(request, {
      message: (m) => send({ t: "msg", id, m }),
      output: (stream, text) => send({ t: "out", id, stream, text }),
      error: (error) => send({ t: "error", id, message: error.message }),
      // Not at its exit: the host's output is relayed to its end before the bot hears it is gone.
      close: (code, signal) => {
        hosts.delete(id);
        send({ t: "close", id, code, signal });
      },
      // A failed renice means the host exited already; its close says so.
    });
  } catch (error) {
    send({ t: "error", id, message: (error as Error).message });
    send({ t: "close", id, code: null, signal: null });
    return;
  }
  hosts.set(id, child);
  if (child.pid !== undefined) send({ t: "spawned", id, pid: child.pid });
}

process.on("message", (raw: unknown) => {
  const message = raw as ToSpawner;
  switch (message.t) {
    case "spawn":
      spawnHost(message);
      return;
    case "send": {
      const child = hosts.get(message.id);
      if (child?.connected === true) child.send(message.m);
      return;
    }
    case "kill":
      hosts.get(message.id)?.kill(message.signal);
      return;
    case "disconnect": {
      const child = hosts.get(message.id);
      if (child?.connected === true) child.disconnect();
      return;
    }
    default:
      return;
  }
});

// The bot is gone: so are its hosts (they leave on their own disconnect too; this does not wait for them).
process.on("disconnect", () => {
  for (const child of hosts.values()) child.kill("SIGKILL");
  process.exit(0);
});

send({ t: "ready" });
