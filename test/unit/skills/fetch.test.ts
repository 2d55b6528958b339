/** Skill fetch: declared hosts only, address checks before connecting, pinned connections, redirects, limits. */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostAllowed, isPrivateAddress, skillFetch, type FetchPolicy } from "../../../skills/runtime/fetch.ts";

const STRICT: FetchPolicy = {
  allowHttp: false,
  allowPrivateNetwork: false,
  allowAddresses: [],
  maxResponseBytes: 1_000_000,
  timeoutMs: 5_000,
  maxRedirects: 3,
};
const LOOPBACK_OK: FetchPolicy = { ...STRICT, allowHttp: true, allowAddresses: ["127.0.0.1"] };

describe("skill fetch", () => {
  let server: Server;
  let port: number;
  const seen: Array<{ url: string; headers: IncomingMessage["headers"] }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? "", headers: req.headers });
      if (req.url === "/hello") {
        res.writeHead(200, { "content-type": "text/plain", "x-test": "yes" }).end("hello there");
      } else if (req.url === "/redirect-ok") {
        res.writeHead(302, { location: "/hello" }).end();
      } else if (req.url === "/redirect-loopback") {
        res.writeHead(302, { location: `http://127.0.0.2:${port}/hello` }).end();
      } else if (req.url === "/redirect-metadata") {
        res.writeHead(301, { location: "http://169.254.169.254/latest/meta-data/" }).end();
      } else if (req.url === "/redirect-undeclared") {
        res.writeHead(307, { location: "https://elsewhere.example/" }).end();
      } else if (req.url === "/loop") {
        res.writeHead(302, { location: "/loop" }).end();
      } else if (req.url === "/big") {
        res.writeHead(200).end("z".repeat(50_000));
      } else if (req.url === "/slow") {
        // never answers
      } else {
        res.writeHead(404).end("no");
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  function run(
    url: string,
    options: {
      hosts?: string[];
      policy?: FetchPolicy;
      init?: unknown;
      resolve?: (h: string) => Promise<Array<{ address: string; family: number }>>;
    } = {},
  ) {
    const connects: string[] = [];
    const result = skillFetch(
      { url, init: options.init ?? null },
      {
        hosts:
          options.hosts ??
          ["localhost", "127.0.0.1", "127.0.0.2", "169.254.169.254", "rebind.localhost", "metadata.test"].flatMap(
            (h) => [h, `${h}:${port}`],
          ),
        policy: options.policy ?? LOOPBACK_OK,
        signal: new AbortController().signal,
        userAgent: "switchboard-skill/test",
        deps: {
          onConnect: (address, p) => connects.push(`${address}:${p}`),
          ...(options.resolve === undefined ? {} : { resolve: options.resolve }),
        },
      },
    );
    return { result, connects };
  }

  it("fetches from a host the operator explicitly allowed", async () => {
    const { result, connects } = run(`http://127.0.0.1:${port}/hello`);
    const res = await result;
    expect(res).toMatchObject({ status: 200, body: "hello there", url: `http://127.0.0.1:${port}/hello` });
    expect(res.headers["x-test"]).toBe("yes");
    expect(connects).toEqual([`127.0.0.1:${port}`]);
    expect(seen.at(-1)?.headers["user-agent"]).toBe("switchboard-skill/test");
  });

  it("refuses 127.0.0.1 by default, before connecting", async () => {
    const { result, connects } = run(`https://127.0.0.1:${port}/hello`, { policy: STRICT });
    await expect(result).rejects.toMatchObject({
      code: "E_SKILL_DENIED",
      chatMessage: expect.stringContaining("loopback, link-local or private"),
    });
    expect(connects).toEqual([]);
  });

  it("refuses 169.254.169.254 without connecting, even when plain HTTP is allowed", async () => {
    const before = seen.length;
    const { result, connects } = run("http://169.254.169.254/latest/meta-data/", {
      policy: { ...STRICT, allowHttp: true },
    });
    await expect(result).rejects.toMatchObject({ code: "E_SKILL_DENIED" });
    expect(connects).toEqual([]);
    expect(seen.length).toBe(before);
  });

  it("checks the resolved address, not the name", async () => {
    const { result, connects } = run("https://metadata.test/", {
      policy: STRICT,
      resolve: async () => [{ address: "169.254.169.254", family: 4 }],
    });
    await expect(result).rejects.toMatchObject({ code: "E_SKILL_DENIED" });
    expect(connects).toEqual([]);
    const mapped = run("https://metadata.test/", {
      policy: STRICT,
      resolve: async () => [{ address: "::ffff:127.0.0.1", family: 6 }],
    });
    await expect(mapped.result).rejects.toMatchObject({ code: "E_SKILL_DENIED" });
  });

  it("connects to the address it checked, whatever the name resolves to later (no DNS rebinding)", async () => {
    let lookups = 0;
    const resolve = async () => {
      lookups++;
      return lookups === 1 ? [{ address: "127.0.0.1", family: 4 }] : [{ address: "10.0.0.1", family: 4 }];
    };
    const { result, connects } = run(`http://rebind.localhost:${port}/hello`, { resolve });
    const res = await result;
    expect(res.body).toBe("hello there");
    expect(lookups).toBe(1);
    expect(connects).toEqual([`127.0.0.1:${port}`]);
    expect(seen.at(-1)?.headers.host).toBe(`rebind.localhost:${port}`);
  });

  it("refuses hosts the skill did not declare", async () => {
    const { result, connects } = run(`http://127.0.0.1:${port}/hello`, { hosts: ["api.example.com"] });
    await expect(result).rejects.toMatchObject({
      code: "E_SKILL_DENIED",
      chatMessage: expect.stringContaining("did not declare it"),
    });
    expect(connects).toEqual([]);
  });

  it("refuses plain HTTP unless the operator allows it", async () => {
    const { result } = run(`http://127.0.0.1:${port}/hello`, { policy: { ...LOOPBACK_OK, allowHttp: false } });
    await expect(result).rejects.toMatchObject({
      code: "E_SKILL_DENIED",
      chatMessage: expect.stringContaining("only HTTPS"),
    });
  });

  it("follows a redirect to an allowed place and reports the final URL", async () => {
    const res = await run(`http://127.0.0.1:${port}/redirect-ok`).result;
    expect(res).toMatchObject({ status: 200, body: "hello there", url: `http://127.0.0.1:${port}/hello` });
  });

  it("re-checks every redirect: loopback, metadata and undeclared targets are refused", async () => {
    const toLoopback = run(`http://127.0.0.1:${port}/redirect-loopback`);
    await expect(toLoopback.result).rejects.toMatchObject({
      code: "E_SKILL_DENIED",
      chatMessage: expect.stringContaining("127.0.0.2"),
    });
    expect(toLoopback.connects).toEqual([`127.0.0.1:${port}`]);
    const toMetadata = run(`http://127.0.0.1:${port}/redirect-metadata`);
    await expect(toMetadata.result).rejects.toMatchObject({ code: "E_SKILL_DENIED" });
    expect(toMetadata.connects).toEqual([`127.0.0.1:${port}`]);
    await expect(run(`http://127.0.0.1:${port}/redirect-undeclared`).result).rejects.toMatchObject({
      code: "E_SKILL_DENIED",
    });
    await expect(run(`http://127.0.0.1:${port}/loop`).result).rejects.toMatchObject({
      chatMessage: expect.stringContaining("too many redirects"),
    });
  });

  it("stops reading past the size limit", async () => {
    await expect(
      run(`http://127.0.0.1:${port}/big`, { policy: { ...LOOPBACK_OK, maxResponseBytes: 1_000 } }).result,
    ).rejects.toMatchObject({ code: "E_SKILL_LIMIT" });
  });

  it("gives up after the time limit", async () => {
    await expect(
      run(`http://127.0.0.1:${port}/slow`, { policy: { ...LOOPBACK_OK, timeoutMs: 300 } }).result,
    ).rejects.toMatchObject({ code: "E_TIMEOUT" });
  });

  it("refuses header injection and headers a skill may not set", async () => {
    const before = seen.length;
    await expect(
      run(`http://127.0.0.1:${port}/hello`, { init: { headers: { "x-a": "1\r\nX-Evil: 1" } } }).result,
    ).rejects.toMatchObject({ code: "E_BAD_ARGS" });
    await expect(
      run(`http://127.0.0.1:${port}/hello`, { init: { headers: { "Bad Name": "1" } } }).result,
    ).rejects.toMatchObject({ code: "E_BAD_ARGS" });
    await expect(
      run(`http://127.0.0.1:${port}/hello`, { init: { headers: { Host: "evil.example" } } }).result,
    ).rejects.toMatchObject({ code: "E_BAD_ARGS" });
    await expect(run(`http://127.0.0.1:${port}/hello`, { init: { method: "CONNECT" } }).result).rejects.toMatchObject({
      code: "E_BAD_ARGS",
    });
    expect(seen.length).toBe(before);
    const ok = await run(`http://127.0.0.1:${port}/hello`, { init: { headers: { "x-token": "abc" } } }).result;
    expect(ok.status).toBe(200);
    expect(seen.at(-1)?.headers["x-token"]).toBe("abc");
  });

  it("refuses URLs with credentials and non-URLs", async () => {
    await expect(run(`http://user:pw@127.0.0.1:${port}/hello`).result).rejects.toMatchObject({ code: "E_BAD_ARGS" });
    await expect(run("not a url").result).rejects.toMatchObject({ code: "E_BAD_ARGS" });
    await expect(run("file:///etc/passwd").result).rejects.toMatchObject({ code: "E_SKILL_DENIED" });
  });
});

describe("address and host checks", () => {
  it("classifies private, loopback, link-local and mapped addresses", () => {
    for (const a of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "0.0.0.0",
      "100.64.0.1",
      "::1",
      "::",
      "fe80::1",
      "fc00::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "::ffff:a9fe:a9fe",
      "not-an-ip",
    ]) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ["93.184.216.34", "8.8.8.8", "2606:4700::1111"]) expect(isPrivateAddress(a), a).toBe(false);
  });

  it("matches host patterns exactly, by suffix for wildcards, and by port when given", () => {
    expect(hostAllowed(["api.example.com"], { hostname: "api.example.com", port: 443 })).toBe(true);
    expect(hostAllowed(["api.example.com"], { hostname: "evil-api.example.com", port: 443 })).toBe(false);
    expect(hostAllowed(["*.example.com"], { hostname: "a.example.com", port: 443 })).toBe(true);
    expect(hostAllowed(["*.example.com"], { hostname: "example.com", port: 443 })).toBe(false);
    expect(hostAllowed(["*.example.com"], { hostname: "example.com.evil.org", port: 443 })).toBe(false);
    expect(hostAllowed(["example.com:8443"], { hostname: "example.com", port: 443 })).toBe(false);
    expect(hostAllowed(["example.com:8443"], { hostname: "example.com", port: 8443 })).toBe(true);
  });

  it("allows only the scheme's port for a host declared without one", () => {
    expect(hostAllowed(["api.example.com"], { hostname: "api.example.com", port: 443, protocol: "https:" })).toBe(true);
    for (const port of [22, 6379, 11211, 8443, 80])
      expect(hostAllowed(["api.example.com"], { hostname: "api.example.com", port: port, protocol: "https:" })).toBe(
        false,
      );
    expect(hostAllowed(["api.example.com"], { hostname: "api.example.com", port: 80, protocol: "http:" })).toBe(true);
    expect(hostAllowed(["api.example.com"], { hostname: "api.example.com", port: 443, protocol: "http:" })).toBe(false);
    expect(hostAllowed(["*.example.com"], { hostname: "a.example.com", port: 6379, protocol: "https:" })).toBe(false);
  });
});
