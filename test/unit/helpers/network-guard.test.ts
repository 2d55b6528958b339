import net from "node:net";
import { describe, expect, it } from "vitest";
import { isLoopback, takeViolations } from "../../helpers/network-guard.ts";

describe("network guard", () => {
  it("knows loopback from the rest", () => {
    for (const h of ["127.0.0.1", "127.5.0.9", "::1", "[::1]", "localhost", "::ffff:127.0.0.1", undefined])
      expect(isLoopback(h)).toBe(true);
    for (const h of ["10.0.0.1", "192.168.1.1", "api.telegram.org", "8.8.8.8", "::ffff:8.8.8.8"])
      expect(isLoopback(h)).toBe(false);
  });

  it("allows a loopback connection", async () => {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", reject);
    });
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("refuses a non-loopback connection and a DNS look-up, and records both", async () => {
    const error = await new Promise<Error>((resolve) => {
      const socket = net.connect({ host: "192.0.2.1", port: 9 });
      socket.once("error", resolve);
    });
    expect((error as NodeJS.ErrnoException).code).toBe("ENETUNREACH");
    await expect(fetch("http://example.invalid/")).rejects.toThrow();
    const found = takeViolations();
    expect(found.some((v) => v.includes("192.0.2.1"))).toBe(true);
    expect(found.some((v) => v.includes("example.invalid"))).toBe(true);
  });
});
