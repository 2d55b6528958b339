// The skill's test: start a stand-in CI server on 127.0.0.1:18787 (the host the manifest declares for testing),
// play test/deploy.json with `switchboard-skill test`, then check what the CI server received: exactly one deploy,
// of staging, with the chat's token. Exits non-zero when either part fails.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";

const PORT = 18787;
const TOKEN = "ci-token-123";
const deploys = [];

const handle = (req, res) => {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    if (req.method !== "POST" || req.url !== "/api/deploys") {
      res.writeHead(404).end("not found");
      return;
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401).end("bad token");
      return;
    }
    const { environment, requestedBy } = JSON.parse(body);
    deploys.push({ environment, requestedBy });
    const id = deploys.length;
    res.writeHead(201, { "content-type": "application/json" });
    res.end(JSON.stringify({ id, url: `http://127.0.0.1:${PORT}/deploys/${id}` }));
  });
};

// The manifest names this port, so it is fixed: when another run holds it, wait for it (up to a minute).
let server;
for (let attempt = 1; ; attempt++) {
  try {
    server = await new Promise((resolve, reject) => {
      const candidate = createServer(handle);
      candidate.once("error", reject).listen(PORT, "127.0.0.1", () => resolve(candidate));
    });
    break;
  } catch (error) {
    if (error.code !== "EADDRINUSE" || attempt === 60) throw error;
    if (attempt === 1) console.log(`127.0.0.1:${PORT} is in use; waiting for it`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

// The CLI runs as a child while this process serves the stand-in CI.
const code = await new Promise((resolve) => {
  const cli = fileURLToPath(new URL("../node_modules/.bin/switchboard-skill", import.meta.url));
  const child = spawn(cli, ["test", fileURLToPath(new URL("deploy.json", import.meta.url))], { stdio: "inherit" });
  child.on("error", (error) => {
    console.error(`cannot run ${cli} (run npm install first): ${error.message}`);
    resolve(1);
  });
  child.on("exit", (c) => resolve(c ?? 1));
});
server.close();

const want = JSON.stringify([{ environment: "staging", requestedBy: "Ada" }]);
const got = JSON.stringify(deploys);
if (got !== want) {
  console.error(`stand-in CI: wanted ${want}, received ${got}`);
  process.exit(1);
}
console.log(`stand-in CI: received ${got}`);
process.exit(code);
