/**
 * `fetch` for skills: only declared and granted hosts, HTTPS unless the operator allows HTTP, every redirect
 * re-checked, the resolved address (not just the name) checked against loopback, link-local and private ranges,
 * and the connection made to exactly the address that was checked (so DNS rebinding and names such as
 * `127.0.0.1.nip.io` cannot reach the host's network). Bodies and time are bounded; headers are validated.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { SwitchboardError } from "../../bot/index.ts";

/** Operator settings for skill fetches. */
export interface FetchPolicy {
  allowHttp: boolean;
  allowPrivateNetwork: boolean;
  allowAddresses: readonly string[];
  maxResponseBytes: number;
  timeoutMs: number;
  maxRedirects: number;
}

/** What the skill asked for (hostile; validated here). */
export interface SkillFetchRequest {
  url: unknown;
  init: unknown;
}

/** What the skill gets back. */
export interface SkillFetchResult {
  status: number;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** Hooks for tests: name resolution, and an observer of every connection attempt. */
export interface FetchDeps {
  resolve?: (hostname: string) => Promise<Array<{ address: string; family: number }>>;
  onConnect?: (address: string, port: number) => void;
}

/** Options for one fetch. */
export interface SkillFetchOptions {
  /** Host patterns both declared by the skill and granted by the chat. */
  hosts: readonly string[];
  policy: FetchPolicy;
  signal: AbortSignal;
  userAgent: string;
  deps?: FetchDeps;
}

const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]{0,8192}$/;
const FORBIDDEN_HEADERS = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "keep-alive",
  "expect",
  "cookie2",
]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Addresses skills never reach unless the operator allows private networks. */
export const PRIVATE_RANGES: BlockList = (() => {
  const list = new BlockList();
  for (const [net, prefix] of [
    ["0.0.0.0", 8],
    ["10.0.0.0", 8],
    ["100.64.0.0", 10],
    ["127.0.0.0", 8],
    ["169.254.0.0", 16],
    ["172.16.0.0", 12],
    ["192.0.0.0", 24],
    ["192.0.2.0", 24],
    ["192.168.0.0", 16],
    ["198.18.0.0", 15],
    ["198.51.100.0", 24],
    ["203.0.113.0", 24],
    ["224.0.0.0", 4],
    ["240.0.0.0", 4],
  ] as const)
    list.addSubnet(net, prefix, "ipv4");
  for (const [net, prefix] of [
    ["::", 128],
    ["::1", 128],
    ["fc00::", 7],
    ["fe80::", 10],
    ["ff00::", 8],
    ["2001:db8::", 32],
    ["100::", 64],
    ["64:ff9b::", 96],
  ] as const)
    list.addSubnet(net, prefix, "ipv6");
  return list;
})();

/** True when the address is loopback, link-local, private, reserved or otherwise not public. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE_RANGES.check(address, "ipv4");
  if (family !== 6) return true;
  const lower = address.toLowerCase();
  const mapped =
    /^(?:0{0,4}:){0,4}:?(?:0{0,4}:)?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower) ?? /^::(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped !== null) return PRIVATE_RANGES.check(mapped[1]!, "ipv4");
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hexMapped !== null) {
    const hi = Number.parseInt(hexMapped[1]!, 16);
    const lo = Number.parseInt(hexMapped[2]!, 16);
    return PRIVATE_RANGES.check(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, "ipv4");
  }
  return PRIVATE_RANGES.check(address, "ipv6");
}

/**
 * True when `hostname:port` matches one of the patterns (`host`, `*.suffix`, `host:port`). A pattern without a
 * port means the scheme's own port only: 443 for HTTPS, 80 for plain HTTP (where the operator allows it); any
 * other port must be declared as `host:port`.
 */
export function hostAllowed(
  patterns: readonly string[],
  target: { hostname: string; port: number; protocol?: string },
): boolean {
  const { port, protocol = "https:" } = target;
  const host = target.hostname.toLowerCase();
  const schemePort = protocol === "http:" ? 80 : 443;
  for (const pattern of patterns) {
    const colon = pattern.lastIndexOf(":");
    const name = colon > 0 ? pattern.slice(0, colon) : pattern;
    const allowedPort = colon > 0 ? Number(pattern.slice(colon + 1)) : schemePort;
    if (allowedPort !== port) continue;
    if (name.startsWith("*.") ? host.endsWith(name.slice(1)) && host.length > name.length - 1 : host === name)
      return true;
  }
  return false;
}

/** Fetch for a skill. Throws `SwitchboardError` (`E_SKILL_DENIED`, `E_SKILL_LIMIT`, `E_TIMEOUT`, `E_SKILL_FAILED`). */
export async function skillFetch(request: SkillFetchRequest, options: SkillFetchOptions): Promise<SkillFetchResult> {
  const init = parseInit(request.init);
  let url = parseUrl(request.url, options.policy);
  const timeoutMs = Math.min(options.policy.timeoutMs, init.timeoutMs ?? Number.POSITIVE_INFINITY);
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]);
  let method = init.method;
  let body = init.body;
  let headers = init.headers;
  for (let hop = 0; ; hop++) {
    const address = await checkTarget(url, options);
    const response = await send(url, address, {
      method,
      headers,
      body,
      signal,
      userAgent: options.userAgent,
      deps: options.deps,
    });
    const location = response.headers.location;
    if (REDIRECTS.has(response.statusCode ?? 0) && typeof location === "string") {
      response.resume();
      if (hop >= options.policy.maxRedirects)
        throw denied(`too many redirects (more than ${options.policy.maxRedirects})`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new SwitchboardError("E_SKILL_FAILED", "redirect to an invalid URL", {
          chatMessage: "fetch failed: the server redirected to an invalid URL",
        });
      }
      next = parseUrl(next.href, options.policy);
      if (next.host !== url.host)
        headers = headers.filter(([name]) => name.toLowerCase() !== "authorization" && name.toLowerCase() !== "cookie");
      if (
        response.statusCode === 303 ||
        ((response.statusCode === 301 || response.statusCode === 302) && method === "POST")
      ) {
        method = "GET";
        body = undefined;
      }
      url = next;
      continue;
    }
    const text = await readBody(response, options.policy.maxResponseBytes, signal);
    return { status: response.statusCode ?? 0, url: url.href, headers: flattenHeaders(response), body: text };
  }
}

interface ParsedInit {
  method: string;
  headers: Array<[string, string]>;
  body: string | undefined;
  timeoutMs: number | undefined;
}

function parseInit(raw: unknown): ParsedInit {
  if (raw === null || raw === undefined) return { method: "GET", headers: [], body: undefined, timeoutMs: undefined };
  if (typeof raw !== "object" || Array.isArray(raw)) throw badArgs("fetch options must be an object");
  const init = raw as Record<string, unknown>;
  const method = Object.hasOwn(init, "method") && init.method !== undefined ? init.method : "GET";
  if (typeof method !== "string" || !METHODS.has(method.toUpperCase()))
    throw badArgs("fetch method must be one of GET, POST, PUT, PATCH, DELETE, HEAD");
  const headers: Array<[string, string]> = [];
  if (Object.hasOwn(init, "headers") && init.headers !== undefined && init.headers !== null) {
    if (typeof init.headers !== "object" || Array.isArray(init.headers))
      throw badArgs("fetch headers must be an object of strings");
    const entries = Object.entries(init.headers as Record<string, unknown>);
    if (entries.length > 30) throw badArgs("too many fetch headers (max 30)");
    for (const [name, value] of entries) {
      if (!TOKEN.test(name)) throw badArgs(`invalid header name ${JSON.stringify(name.slice(0, 60))}`);
      if (typeof value !== "string" || !HEADER_VALUE.test(value))
        throw badArgs(`invalid value for header ${name} (no line breaks or control characters)`);
      const lower = name.toLowerCase();
      if (FORBIDDEN_HEADERS.has(lower) || lower.startsWith("proxy-"))
        throw badArgs(`the header ${name} cannot be set by a skill`);
      headers.push([name, value]);
    }
  }
  const body = Object.hasOwn(init, "body") ? init.body : undefined;
  if (body !== undefined && body !== null && typeof body !== "string") throw badArgs("fetch body must be a string");
  const timeoutMs = Object.hasOwn(init, "timeoutMs") ? init.timeoutMs : undefined;
  if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !(timeoutMs > 0)))
    throw badArgs("fetch timeoutMs must be a positive number");
  return { method: method.toUpperCase(), headers, body: typeof body === "string" ? body : undefined, timeoutMs };
}

function parseUrl(raw: unknown, policy: FetchPolicy): URL {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > 2_048)
    throw badArgs("fetch needs a URL string (at most 2048 characters)");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badArgs("fetch needs an absolute URL such as https://api.example.com/path");
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && policy.allowHttp)) {
    throw denied(
      `only HTTPS URLs may be fetched${policy.allowHttp ? " (or HTTP)" : ""}; got ${url.protocol.replace(/:$/, "")}`,
    );
  }
  if (url.username !== "" || url.password !== "") throw badArgs("URLs with credentials are refused; use a header");
  return url;
}

/** Check declared+granted host, then resolve and check the address. Returns the one address to connect to. */
async function checkTarget(url: URL, options: SkillFetchOptions): Promise<{ address: string; family: number }> {
  const hostname = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
  if (!hostAllowed(options.hosts, { hostname, port, protocol: url.protocol })) {
    throw denied(
      `fetch to ${hostname} is not allowed: the skill did not declare it for port ${port} (a port other than ${url.protocol === "http:" ? 80 : 443} must be declared as host:port), or this chat did not grant it`,
    );
  }
  let addresses: Array<{ address: string; family: number }>;
  const literal = isIP(hostname);
  if (literal !== 0) {
    addresses = [{ address: hostname, family: literal }];
  } else {
    try {
      addresses = await (options.deps?.resolve ?? defaultResolve)(hostname);
    } catch {
      throw new SwitchboardError("E_SKILL_FAILED", `cannot resolve ${hostname}`, {
        chatMessage: `fetch failed: cannot resolve ${hostname}`,
      });
    }
  }
  if (addresses.length === 0)
    throw new SwitchboardError("E_SKILL_FAILED", `no address for ${hostname}`, {
      chatMessage: `fetch failed: no address for ${hostname}`,
    });
  const { policy } = options;
  for (const a of addresses) {
    if (isPrivateAddress(a.address) && !policy.allowPrivateNetwork && !policy.allowAddresses.includes(a.address)) {
      throw denied(`fetch to ${hostname} is not allowed: it resolves to a loopback, link-local or private address`);
    }
  }
  return addresses[0]!;
}

async function defaultResolve(hostname: string): Promise<Array<{ address: string; family: number }>> {
  return dnsLookup(hostname, { all: true, verbatim: true });
}

function send(
  url: URL,
  target: { address: string; family: number },
  options: {
    method: string;
    headers: Array<[string, string]>;
    body: string | undefined;
    signal: AbortSignal;
    userAgent: string;
    deps: FetchDeps | undefined;
  },
): Promise<IncomingMessage> {
  const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
  // Connect to the address that was checked, whatever the name resolves to now.
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    options.deps?.onConnect?.(target.address, port);
    if ((lookupOptions as { all?: boolean }).all === true) {
      (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [target]);
    } else {
      callback(null, target.address, target.family);
    }
  };
  // Keyed by skill input: no prototype to write through.
  const headers = Object.assign(Object.create(null) as Record<string, string>, {
    "user-agent": options.userAgent,
    "accept-encoding": "identity",
  });
  for (const [name, value] of options.headers) headers[name.toLowerCase()] = value;
  if (options.body !== undefined) headers["content-length"] = String(Buffer.byteLength(options.body));
  const requestFn = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = requestFn(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ""),
        port,
        path: `${url.pathname}${url.search}`,
        method: options.method,
        headers,
        lookup: pinned,
        agent: false,
        signal: options.signal,
      },
      resolve,
    );
    req.on("error", (error: Error & { code?: string }) => reject(networkError(error, options.signal)));
    if (isIP(url.hostname.replace(/^\[|\]$/g, "")) !== 0) options.deps?.onConnect?.(target.address, port);
    req.end(options.body);
  });
}

function readBody(response: IncomingMessage, maxBytes: number, signal: AbortSignal): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (error: SwitchboardError): void => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    response.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        fail(
          new SwitchboardError("E_SKILL_LIMIT", "response too large", {
            chatMessage: `fetch failed: the response is larger than ${maxBytes} bytes`,
          }),
        );
        response.destroy();
        return;
      }
      chunks.push(chunk);
    });
    response.on("end", () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    response.on("error", (error: Error & { code?: string }) => fail(networkError(error, signal)));
    response.on("aborted", () => fail(networkError(new Error("aborted"), signal)));
  });
}

function flattenHeaders(response: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let count = 0;
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined || ++count > 100) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return { ...out };
}

function networkError(error: Error & { code?: string }, signal: AbortSignal): SwitchboardError {
  if (signal.aborted || error.name === "AbortError") {
    return new SwitchboardError("E_TIMEOUT", "fetch timed out", { chatMessage: "fetch failed: it took too long" });
  }
  const code = typeof error.code === "string" && /^[A-Z_]{2,40}$/.test(error.code) ? error.code : "network error";
  return new SwitchboardError("E_SKILL_FAILED", `fetch failed: ${code}`, { chatMessage: `fetch failed: ${code}` });
}

function denied(message: string): SwitchboardError {
  return new SwitchboardError("E_SKILL_DENIED", message, { chatMessage: message });
}

function badArgs(message: string): SwitchboardError {
  return new SwitchboardError("E_BAD_ARGS", message, { chatMessage: message });
}
