/**
 * Vitest setup: no test may reach a non-loopback address. Socket connects and DNS look-ups of anything but
 * loopback (127.0.0.0/8, ::1, localhost) and local socket paths are refused at once, and the test that tried
 * fails in `afterEach` even when the code under test swallowed the error (an SDK retrying quietly).
 * Wired in vitest.config.ts (`setupFiles: ["test/helpers/network-guard.ts"]`).
 */
import dns from "node:dns";
import net from "node:net";
import { afterEach } from "vitest";

/** True for addresses and names that stay on this machine. */
export function isLoopback(host: string | undefined): boolean {
  if (host === undefined || host === "") return true; // Node defaults to localhost
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost") || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (h.startsWith("::ffff:")) return isLoopback(h.slice(7));
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const violations: string[] = [];

function refuse(what: string): Error {
  const message = `network guard: test tried to reach ${what} (only loopback is allowed)`;
  violations.push(message);
  const error = new Error(message) as NodeJS.ErrnoException;
  error.code = "ENETUNREACH";
  return error;
}

/** Where a `socket.connect(...)` call is going: a host, or undefined for a local socket path. */
function targetOf(args: unknown[]): { host?: string; path?: string; port?: unknown } {
  let first = args[0];
  if (Array.isArray(first)) first = first[0]; // internal normalised form: [options, cb]
  if (typeof first === "object" && first !== null) {
    const o = first as { host?: string; path?: string; port?: unknown };
    return { host: o.host, path: o.path, port: o.port };
  }
  if (typeof first === "string" && !/^\d+$/.test(first)) return { path: first };
  return { host: typeof args[1] === "string" ? args[1] : undefined, port: first };
}

const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
  const target = targetOf(args);
  if (target.path === undefined && !isLoopback(target.host)) {
    const error = refuse(`${target.host}:${String(target.port)}`);
    process.nextTick(() => this.destroy(error));
    return this;
  }
  return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;

const originalLookup = dns.lookup;
(dns as { lookup: unknown }).lookup = function guardedLookup(hostname: string, ...rest: unknown[]) {
  if (!isLoopback(hostname) && net.isIP(hostname) === 0) {
    const callback = rest[rest.length - 1];
    const error = refuse(`${hostname} (DNS)`);
    if (typeof callback === "function") process.nextTick(() => (callback as (e: Error) => void)(error));
    return {};
  }
  return (originalLookup as (...a: unknown[]) => unknown).call(dns, hostname, ...rest);
};

const originalPromisesLookup = dns.promises.lookup;
(dns.promises as { lookup: unknown }).lookup = async function guardedPromisesLookup(
  hostname: string,
  ...rest: unknown[]
) {
  if (!isLoopback(hostname) && net.isIP(hostname) === 0) throw refuse(`${hostname} (DNS)`);
  return (originalPromisesLookup as (...a: unknown[]) => Promise<unknown>).call(dns.promises, hostname, ...rest);
};

/** Take (and clear) the refusals recorded so far; for the guard's own tests. */
export function takeViolations(): string[] {
  return violations.splice(0);
}

afterEach(() => {
  if (violations.length === 0) return;
  const found = violations.splice(0);
  throw new Error(`${found.length} non-loopback connection attempt(s):\n${[...new Set(found)].join("\n")}`);
});
