import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkedAttachmentUrl, remoteAttachment } from "../../../../adapters/shared/attachments.ts";

describe("remote attachments", () => {
  let server: Server;
  let origin: string;
  const served: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      served.push(req.url ?? "");
      if (req.url === "/chunked") {
        // No Content-Length: the size is known only as the bytes arrive.
        res.writeHead(200, { "content-type": "application/octet-stream" });
        for (let i = 0; i < 8; i++) res.write(Buffer.alloc(1024, i));
        res.end();
      } else if (req.url === "/redirect") {
        res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data" }).end();
      } else {
        res.writeHead(200, { "content-length": "5" }).end("hello");
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => {
    server.close();
  });

  it("stops reading a body with no declared size once it passes maxBytes", async () => {
    const a = remoteAttachment({
      name: "big.bin",
      mimeType: "x/y",
      url: `${origin}/chunked`,
      allowedOrigins: [origin],
    });
    await expect(a.fetch({ maxBytes: 3000 })).rejects.toMatchObject({
      code: "E_FILE_TOO_LARGE",
      chatMessage: expect.stringMatching(/big\.bin/),
    });
    expect((await a.fetch({ maxBytes: 8192 })).byteLength).toBe(8192);
  });

  it("refuses a declared size over maxBytes without a request", async () => {
    const before = served.length;
    const a = remoteAttachment({ name: "a", mimeType: "x/y", size: 10, url: `${origin}/x`, allowedOrigins: [origin] });
    await expect(a.fetch({ maxBytes: 9 })).rejects.toMatchObject({ code: "E_FILE_TOO_LARGE" });
    expect(served.length).toBe(before);
  });

  it("does not follow a redirect off the file host", async () => {
    const a = remoteAttachment({ name: "a", mimeType: "x/y", url: `${origin}/redirect`, allowedOrigins: [origin] });
    await expect(a.fetch({ maxBytes: 100 })).rejects.toBeDefined();
  });

  it("accepts only an allowed origin, with no credentials in the URL", () => {
    expect(checkedAttachmentUrl(`${origin}/f`, [origin]).pathname).toBe("/f");
    for (const url of [
      "https://files.slack.com.evil.example/f",
      `${origin.replace("http:", "https:")}/f`,
      `http://user:pw@${origin.slice("http://".length)}/f`,
      "file:///etc/passwd",
      "not a url",
    ]) {
      expect(() => checkedAttachmentUrl(url, [origin, "https://files.slack.com"]), url).toThrow(
        expect.objectContaining({ code: "E_BAD_ARGS" }),
      );
    }
  });
});
