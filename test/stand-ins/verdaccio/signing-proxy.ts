/**
 * A registry front that signs, as the public registry does: it proxies a Verdaccio, publishes an ECDSA P-256 key
 * at `/-/npm/v1/keys`, and adds `dist.signatures` (ECDSA-SHA256 over `name@version:integrity`) to every version
 * in the packuments it forwards. Packages can be left unsigned or given a wrong signature, for the tests.
 */
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A running signing front. */
export interface SigningProxy {
  readonly url: string;
  /** Leave these packages unsigned. */
  readonly unsigned: Set<string>;
  /** Sign these packages over the wrong data (the signature will not verify). */
  readonly badlySigned: Set<string>;
  close(): Promise<void>;
}

/** Start a signing front for the registry at `upstream` (`http://127.0.0.1:PORT/`). */
export async function startSigningProxy(upstream: string): Promise<SigningProxy> {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const keyid = `SHA256:${createHash("sha256").update(spki).digest("base64")}`;
  const unsigned = new Set<string>();
  const badlySigned = new Set<string>();

  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = req.url ?? "/";
      if (path === "/-/npm/v1/keys") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            keys: [
              {
                expires: null,
                keyid,
                keytype: "ecdsa-sha2-nistp256",
                scheme: "ecdsa-sha2-nistp256",
                key: spki.toString("base64"),
              },
            ],
          }),
        );
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === "string" && k !== "host" && k !== "accept-encoding") headers[k] = v;
      // Full packuments only: the abbreviated form would not carry signatures through this front.
      if (headers.accept?.includes("application/vnd.npm.install-v1+json") === true) headers.accept = "application/json";
      const upstreamRes = await fetch(new URL(path.slice(1), upstream), { method: req.method ?? "GET", headers });
      const body = Buffer.from(await upstreamRes.arrayBuffer());
      const type = upstreamRes.headers.get("content-type") ?? "application/octet-stream";
      if (!type.includes("json") || upstreamRes.status !== 200) {
        res.writeHead(upstreamRes.status, { "content-type": type });
        res.end(body);
        return;
      }
      const doc = JSON.parse(body.toString("utf8")) as {
        name?: string;
        versions?: Record<string, { dist?: Record<string, unknown> }>;
      };
      if (typeof doc.name === "string" && doc.versions !== undefined && !unsigned.has(doc.name)) {
        for (const [version, manifest] of Object.entries(doc.versions)) {
          const integrity = manifest.dist?.integrity;
          if (typeof integrity !== "string" || manifest.dist === undefined) continue;
          const signed = badlySigned.has(doc.name)
            ? `${doc.name}@${version}:sha512-forged`
            : `${doc.name}@${version}:${integrity}`;
          manifest.dist.signatures = [
            { keyid, sig: sign("sha256", Buffer.from(signed), privateKey).toString("base64") },
          ];
        }
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(doc));
    })().catch((error: unknown) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    unsigned,
    badlySigned,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
