/**
 * The OpenAI stand-in as its own process (benchmarks: keeps its CPU out of the measured process). Prints its base
 * URL on the first line of stdout. Every request is answered at once with `pong-<n>.`; a user message containing
 * `chunks:<k>` gets the answer streamed in k chunks, `gap:<ms>` that many milliseconds apart.
 *
 *   npx node test/stand-ins/openai/main.ts
 */
import { startOpenAiStandIn } from "./server.ts";

const standIn = await startOpenAiStandIn();
let n = 0;
standIn.script.fallback = {
  kind: "fn",
  fn: (req) => {
    const last = String(req.messages.at(-1)?.content ?? "");
    const k = Math.max(1, Number(/chunks:(\d+)/.exec(last)?.[1] ?? 1));
    const gapMs = Number(/gap:(\d+)/.exec(last)?.[1] ?? 0);
    const text = `pong-${++n}.`;
    return { kind: "text", text, chunks: [...Array.from({ length: k - 1 }, () => "x"), text], gapMs };
  },
};
process.stdout.write(`${standIn.baseUrl}\n`);
process.stdin.resume();
process.stdin.on("end", () => void standIn.close().then(() => process.exit(0)));
