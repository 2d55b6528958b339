/**
 * A stand-in workflow server (what n8n, Zapier or a GitHub Actions dispatcher are to the bot): it receives run
 * requests, checks their timestamped HMAC signature with the workflow's secret, keeps them, and answers a run
 * later by POSTing `{ runId, status, text }` to the run's callback URL, signed the same way.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One run request as received. */
export interface ReceivedRun {
  body: {
    workflow: string;
    runId: string;
    args: string[];
    rawArgs: string;
    chat: { key: string; platform: string; chatId: string; threadId?: string };
    user: string;
    callback: { url: string; runId: string };
  };
  headers: Record<string, string | string[] | undefined>;
  /** The signature checked out with the secret the test gave (`secret`), within 5 minutes. */
  isSigned: boolean;
}

/** See the file comment. */
export class WorkflowStandIn {
  readonly runs: ReceivedRun[] = [];
  /** The secret to check signatures with (set once the bot answered it). */
  secret = "";
  /** Status to answer run requests with. */
  status = 202;
  readonly #server: Server;

  private constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const ts = String(req.headers["x-switchboard-timestamp"] ?? "");
        const sig = String(req.headers["x-switchboard-signature"] ?? "");
        const expected = `sha256=${createHmac("sha256", this.secret).update(`${ts}.${raw}`).digest("hex")}`;
        const isFresh = Math.abs(Date.now() - Number(ts) * 1000) < 300_000;
        const isSigned =
          isFresh && sig.length === expected.length && timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
        this.runs.push({ body: JSON.parse(raw) as ReceivedRun["body"], headers: req.headers, isSigned });
        res.writeHead(this.status, { "content-type": "application/json" }).end('{"accepted":true}');
      });
    });
  }

  static async start(): Promise<WorkflowStandIn> {
    const standIn = new WorkflowStandIn();
    await new Promise<void>((resolve) => standIn.#server.listen(0, "127.0.0.1", resolve));
    return standIn;
  }

  /** Where runs are posted. */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/run`;
  }

  /**
   * Answer a run at its callback, signed with the secret. `origin` replaces the callback URL's origin (the bot
   * builds it from its configured address; a test's listener has a port chosen at start).
   */
  async answer(run: ReceivedRun, o: { status: string; text?: string; origin?: string }): Promise<number> {
    const url = new URL(run.body.callback.url);
    const target = o.origin === undefined ? url.href : `${o.origin}${url.pathname}`;
    const body = JSON.stringify({
      runId: run.body.runId,
      status: o.status,
      ...(o.text === undefined ? {} : { text: o.text }),
    });
    const ts = String(Math.floor(Date.now() / 1000));
    const res = await fetch(target, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-switchboard-timestamp": ts,
        "x-switchboard-signature": `sha256=${createHmac("sha256", this.secret).update(`${ts}.${body}`).digest("hex")}`,
      },
      body,
    });
    await res.body?.cancel();
    return res.status;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
