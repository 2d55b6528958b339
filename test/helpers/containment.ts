/**
 * The containment harness shared by `test/e2e/skills/containment.test.ts` (which asserts) and
 * `test/bench/sandbox.ts` (which prints): a real bot with the skills and LLM plugins, the greedy and allocbomb
 * fixture skills enabled in chat `hostile`, a loopback HTTP server that counts requests (and TCP listeners that
 * count connections on other ports) and the OpenAI stand-in that counts model calls, both in a child process
 * (`containment-servers.ts`: the far ends, not the bot's own work), and an observer chat running
 * `/dice 2d6` every 100 ms while a case runs. It uses only what the skills plugin offered before budgets existed,
 * so the same harness measures an older commit.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fork } from "node:child_process";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createLlmPlugin } from "../../llm/index.ts";
import { createSkillsPlugin, type SkillsPlugin } from "../../skills/index.ts";
import { startTestBot, type TestBot } from "./app.ts";

const FIXTURES = resolve(import.meta.dirname, "../fixtures/skills");

/** Latency of the observer's `/dice 2d6`. */
export interface ObserverFigures {
  count: number;
  failures: number;
  /** The first answer that was not a roll, to say why. */
  firstFailure?: string;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** How long the observer ran, in ms (a paired baseline window is made as long). */
  windowMs: number;
  /** Every latency, in the order taken (a bench pools them over rounds before taking a percentile). */
  samples: number[];
}

/** What one case did and cost. */
export interface CaseFigures {
  name: string;
  /** The hostile chat's last message. */
  reply: string;
  invocationMs: number;
  /** Requests that reached the loopback HTTP server. */
  requests: number;
  /** Connections accepted on the undeclared ports. */
  otherPortConnections: number;
  /** Calls that reached the model stand-in. */
  llmRequests: number;
  /** Key-value store operations (settings reads, storage reads and writes). */
  kvOps: number;
  /** Longest event-loop stall of the bot process. */
  loopMaxMs: number;
  /** The bot's event-loop delay at p99 over the case's window (`monitorEventLoopDelay`, 10 ms resolution). */
  loopP99Ms: number;
  /** CPU time the bot process spent over the case's window (user + system), in ms. */
  botCpuMs: number;
  /** CPU time the skill hosts spent over the case's window: the shared ones (the observer's dice), and the rest. */
  hostCpuMs: HostCpu;
  /** Largest growth of the bot process's resident size over its size before the case. */
  botRssGrowthMb: number;
  /** Largest growth of the skill hosts' resident size (all hosts) over their size before the case. */
  hostRssGrowthMb: number;
  /** Latency of a follow-up `/greedy ok` in the hostile chat, when the case asks for one. */
  nextCallMs: number | undefined;
  /** How many times the case ran (more than once with `repeatForMs`). */
  runs: number;
  observer: ObserverFigures;
}

/** How one case runs. */
export interface RunOptions {
  /** Follow the case with `/greedy ok` in the hostile chat and time it. */
  followUp?: boolean;
  /**
   * Run the case again, back to back, until this long has passed since it started (the observer then measures
   * a sustained case, not a window that is mostly idle); the figures of the first run are reported.
   */
  repeatForMs?: number;
}

/** A running harness. */
export interface Containment {
  bot: TestBot;
  plugin: SkillsPlugin;
  /** The loopback server's URL for the fetch flood. */
  floodUrl: string;
  /** Ports with a TCP listener that the skill did not declare. */
  otherPorts: number[];
  /** The observer alone, for its baseline. */
  baseline(durationMs: number): Promise<ObserverFigures>;
  /** Run one hostile command in chat `hostile` while the observer runs. */
  run(name: string, text: string, options?: RunOptions): Promise<CaseFigures>;
  stop(): Promise<void>;
}

/** Options of the harness. */
export interface ContainmentOptions {
  /** Config paths set on the bot, over the harness's own (the bench lifts the quarantine threshold). */
  set?: Record<string, unknown>;
  /**
   * The observer's `/dice 2d6` starts every this many ms (default 100). The bench takes it down to 20 so a 3 s
   * window holds 100-odd samples and its p99 is not its maximum.
   */
  observerEveryMs?: number;
}

/** Start the harness. */
export async function startContainment(options: ContainmentOptions = {}): Promise<Containment> {
  const everyMs = options.observerEveryMs ?? 100;
  const dataDir = mkdtempSync(join(tmpdir(), "sb-contain-"));
  const far = await startFarEnds();
  const { port, otherPorts } = far;
  const greedy = join(dataDir, "greedy");
  cpSync(join(FIXTURES, "greedy"), greedy, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(greedy, "package.json"), "utf8")) as {
    switchboard: { permissions: { network: string[] }; limits?: { timeoutMs: number } };
  };
  pkg.switchboard.permissions.network = ["127.0.0.1", `127.0.0.1:${port}`];
  // Each flood is to meet the budget it targets; under the 2 s default wall clock a loaded machine's slow round
  // trips could end a flood on time first (100 calls a second at over 20 ms each), which is contained too but not
  // the case under test.
  pkg.switchboard.limits = { timeoutMs: 10_000 };
  writeFileSync(join(greedy, "package.json"), JSON.stringify(pkg));

  let plugin: SkillsPlugin | undefined;
  const bot = await startTestBot({
    set: {
      "bot.dataDir": dataDir,
      "limits.perUser": { burst: 100_000, perMinute: 1_000_000 },
      "limits.perChat": { burst: 100_000, perMinute: 1_000_000 },
      "skills.fetch": { allowHttp: true, allowAddresses: ["127.0.0.1"] },
      "llm.models": [
        { name: "main", provider: "openai", model: "stand", baseUrl: far.openaiBaseUrl, apiKey: "k", stream: false },
      ],
      ...options.set,
    },
    plugins: [
      (core) => createLlmPlugin(core),
      async (core) => {
        plugin = await createSkillsPlugin(core, { env: { SWITCHBOARD_SECRET_KEY: "containment" } });
        return plugin;
      },
    ],
  });
  const skills = plugin!;
  for (const dir of [greedy, join(FIXTURES, "allocbomb")]) await skills.service.load(dir, { source: "installed" });
  for (const name of ["greedy", "allocbomb"]) await skills.service.enable("test:hostile", name, "test:owner");

  let kvOps = 0;
  const kv = bot.app.core.store.kv as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ["get", "set", "delete", "list", "sizeBytes"]) {
    const original = kv[method]!.bind(kv);
    kv[method] = (...args: unknown[]) => {
      kvOps++;
      return original(...args);
    };
  }

  const say = (text: string, chatId: string) =>
    bot.app.core.router.process(bot.adapter.inbound(text, { chatId, role: "admin" }));

  async function observe(isDone: () => boolean): Promise<ObserverFigures> {
    const latencies: number[] = [];
    let failures = 0;
    let firstFailure: string | undefined;
    const started = performance.now();
    while (!isDone()) {
      const before = bot.adapter.textsIn("observer").length;
      const t0 = performance.now();
      await say("/dice 2d6", "observer");
      const ms = performance.now() - t0;
      latencies.push(ms);
      const answer = bot.adapter.textsIn("observer").slice(before).join("\n");
      if (!/2d6: \d \+ \d = \*\*\d+\*\*/.test(answer)) {
        failures++;
        firstFailure ??= `${answer || "(no answer)"} after ${ms.toFixed(0)} ms`;
      }
      await sleep(Math.max(0, everyMs - ms));
    }
    return {
      ...summarise(latencies, failures),
      samples: latencies,
      windowMs: performance.now() - started,
      ...(firstFailure === undefined ? {} : { firstFailure }),
    };
  }

  return {
    bot,
    plugin: skills,
    floodUrl: `http://127.0.0.1:${port}/`,
    otherPorts,
    baseline: async (durationMs) => {
      const until = performance.now() + durationMs;
      return observe(() => performance.now() > until);
    },
    async run(name, text, options = {}) {
      await sleep(200);
      await far.reset();
      kvOps = 0;
      const hostBefore = hostRss(skills);
      const botBefore = process.memoryUsage.rss();
      let hostMax = hostBefore;
      let botMax = botBefore;
      const sampler = setInterval(() => {
        hostMax = Math.max(hostMax, hostRss(skills));
        botMax = Math.max(botMax, process.memoryUsage.rss());
      }, 20);
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const cpuBefore = process.cpuUsage();
      const hostCpuBefore = hostCpu(skills);
      let done = false;
      const watching = observe(() => done);
      await sleep(300);
      const t0 = performance.now();
      await say(text, "hostile");
      const invocationMs = performance.now() - t0;
      const reply = bot.adapter.textsIn("hostile").at(-1) ?? "";
      let nextCallMs: number | undefined;
      if (options.followUp === true) {
        const t1 = performance.now();
        await say("/greedy ok", "hostile");
        nextCallMs = performance.now() - t1;
      }
      // Counted for the first run only; without repeats, after the tail below (late arrivals count too).
      const counted = async () => ({ ...(await far.counts()), kvOps });
      const first = options.repeatForMs === undefined ? undefined : await counted();
      let runs = 1;
      while (performance.now() - t0 < (options.repeatForMs ?? 0)) {
        await say(text, "hostile");
        if (options.followUp === true) await say("/greedy ok", "hostile");
        runs++;
      }
      await sleep(500);
      const reached = first ?? (await counted());
      done = true;
      const observer = await watching;
      loop.disable();
      const cpu = process.cpuUsage(cpuBefore);
      const hostCpuAfter = hostCpu(skills);
      clearInterval(sampler);
      return {
        name,
        reply,
        invocationMs,
        requests: reached.requests,
        otherPortConnections: reached.otherConnections,
        llmRequests: reached.llmRequests,
        kvOps: reached.kvOps,
        loopMaxMs: loop.max / 1e6,
        loopP99Ms: loop.percentile(99) / 1e6,
        botCpuMs: (cpu.user + cpu.system) / 1_000,
        // A host that restarted in the window counts from zero: the difference is then at least its new life's.
        hostCpuMs: {
          shared: Math.max(0, hostCpuAfter.shared - hostCpuBefore.shared),
          own: Math.max(0, hostCpuAfter.own - hostCpuBefore.own),
        },
        botRssGrowthMb: (botMax - botBefore) / 1_048_576,
        hostRssGrowthMb: (hostMax - hostBefore) / 1_048_576,
        nextCallMs,
        runs,
        observer,
      };
    },
    async stop() {
      await bot.stop();
      await far.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The far ends a case reaches (containment-servers.ts), in a child process, and what reached them. */
interface FarEnds {
  port: number;
  otherPorts: number[];
  openaiBaseUrl: string;
  counts(): Promise<{ requests: number; otherConnections: number; llmRequests: number }>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

async function startFarEnds(): Promise<FarEnds> {
  const child = fork(join(import.meta.dirname, "containment-servers.ts"), [], {
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  type Ready = { t: "ready"; port: number; otherPorts: number[]; openaiBaseUrl: string };
  const ready = await new Promise<Ready>((resolvePromise, reject) => {
    child.once("message", (m: Ready) => resolvePromise(m));
    child.once("exit", (code) => reject(new Error(`containment servers exited (${code})`)));
  });
  let nextId = 1;
  const waiting = new Map<number, (m: Record<string, number>) => void>();
  child.on("message", (m: { id?: number } & Record<string, number>) => {
    if (m.id === undefined) return;
    waiting.get(m.id)?.(m);
    waiting.delete(m.id);
  });
  const ask = (t: "counts" | "reset") =>
    new Promise<Record<string, number>>((resolvePromise) => {
      const id = nextId++;
      waiting.set(id, resolvePromise);
      child.send({ t, id });
    });
  return {
    port: ready.port,
    otherPorts: ready.otherPorts,
    openaiBaseUrl: ready.openaiBaseUrl,
    async counts() {
      const m = await ask("counts");
      return { requests: m.requests!, otherConnections: m.otherConnections!, llmRequests: m.llmRequests! };
    },
    async reset() {
      await ask("reset");
    },
    async stop() {
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.disconnect();
      await exited;
    },
  };
}

/** CPU time of the skill hosts, in ms. */
export interface HostCpu {
  /** The observer's `/dice` host (the built-ins' shared host). */
  shared: number;
  /** Every other host running now (the hostile skills' own). */
  own: number;
}

/** CPU time (user + system) the running skill hosts have spent so far (Linux `/proc`; 0 elsewhere). */
export function hostCpu(plugin: SkillsPlugin): HostCpu {
  const out: HostCpu = { shared: 0, own: 0 };
  const dicePid = plugin.supervisor.hostFor("dice").pid;
  for (const pid of plugin.supervisor.pids()) {
    if (pid === undefined) continue;
    try {
      // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ms = ((Number(fields[11]) + Number(fields[12])) * 1_000) / 100;
      if (pid === dicePid) out.shared += ms;
      else out.own += ms;
    } catch {
      // The process just exited.
    }
  }
  return out;
}

/** Resident size of every running skill host, in bytes (Linux `/proc`; 0 elsewhere). */
function hostRss(plugin: SkillsPlugin): number {
  let total = 0;
  for (const pid of plugin.supervisor.pids()) {
    if (pid === undefined) continue;
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      total += Number(match?.[1] ?? 0) * 1024;
    } catch {
      // The process just exited.
    }
  }
  return total;
}

/** The `q` quantile of some latencies (nearest rank). */
export function quantile(latencies: number[], q: number): number {
  const sorted = [...latencies].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

function summarise(latencies: number[], failures: number): Omit<ObserverFigures, "windowMs" | "samples"> {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { count: sorted.length, failures, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? 0 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
