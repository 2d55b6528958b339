/**
 * The far ends of the containment harness (`containment.ts`), in a process of their own as they would be for a
 * deployed bot: the loopback HTTP server a fetch flood hits (`/slow` answers after 1 s), four TCP listeners on
 * ports no skill declared, and the OpenAI stand-in. Run in the bot's own process, they served every flooded
 * request on the bot's event loop and held every recorded model request in its heap, and the bench charged that to
 * the bot. It counts what reached it, and answers the parent over IPC:
 * `{ t: "counts", id }` → `{ t: "counts", id, requests, otherConnections, llmRequests }`; `{ t: "reset", id }`
 * zeroes the counts. It leaves when the parent goes.
 */
import { createServer } from "node:http";
import { type AddressInfo, createServer as createTcpServer } from "node:net";
import { startOpenAiStandIn } from "../stand-ins/openai/server.ts";

let requests = 0;
let otherConnections = 0;
const http = createServer((req, res) => {
  requests++;
  if (req.url?.startsWith("/slow") === true) setTimeout(() => res.end("slow"), 1_000);
  else res.end("ok");
});
await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
const otherPorts: number[] = [];
for (let i = 0; i < 4; i++) {
  const server = createTcpServer((socket) => {
    otherConnections++;
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  otherPorts.push((server.address() as AddressInfo).port);
}
const openai = await startOpenAiStandIn();

process.on("message", (message: { t: "counts" | "reset"; id: number }) => {
  if (message.t === "reset") {
    requests = 0;
    otherConnections = 0;
    openai.script.clear();
    process.send?.({ t: "reset", id: message.id });
    return;
  }
  process.send?.({
    t: "counts",
    id: message.id,
    requests,
    otherConnections,
    llmRequests: openai.script.requests.length,
  });
});
process.on("disconnect", () => process.exit(0));

process.send?.({
  t: "ready",
  port: (http.address() as AddressInfo).port,
  otherPorts,
  openaiBaseUrl: openai.baseUrl,
});
