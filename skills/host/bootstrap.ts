/**
 * The script run first in every skill context, before the skill's own code. Its completion value is an
 * `install(capRaw, configJson)` function; `install` returns `entry(op, ...)`, the one function the host calls: `entry("run", inv, kind, name, inputJson)` runs a
 * handler; `entry("deliver", capId, resultJson)` settles a pending capability call (and answers "late", doing nothing, when its invocation has settled); `entry("take", inv)` hands back the result a handler returned (see `keep`), or a promise of it while the handler still runs. `capRaw` (the only host
 * function in the context, fire-and-forget) is held in this closure and never stored on a global, so skill code
 * reaches the host only through the capability object built here, and every value crosses as a JSON string.
 */

/** Source of the bootstrap script (plain JavaScript, evaluated inside the isolate). */
export const BOOTSTRAP_SOURCE = `(function install(capRaw, configJson) {
  "use strict";
  const parse = JSON.parse;
  const stringify = JSON.stringify;
  const freeze = Object.freeze;
  const hasOwn = Object.prototype.hasOwnProperty;
  const apply = Reflect.apply;
  const ErrorC = Error;
  const TypeErrorC = TypeError;
  const RangeErrorC = RangeError;
  const promiseThen = Promise.prototype.then;
  const config = parse(configJson);
  // WebAssembly memory is not counted against the isolate's memory limit, and shared memory would let a
  // skill block its thread in Atomics.wait: neither is offered.
  const removed = ["WebAssembly", "SharedArrayBuffer", "Atomics"];
  for (let i = 0; i < removed.length; i++) {
    try { delete globalThis[removed[i]]; } catch (e) { /* not configurable: leave it */ }
  }
  const MapC = Map;
  const PromiseC = Promise;
  const pending = new MapC();
  // Invocations whose handler has not settled yet, each with a promise of its result: an answer for any other is
  // dropped here, in the isolate's own order, so work a handler left behind never runs once its result is in
  // (whatever the host's timing).
  const live = new MapC();
  const mapGet = Map.prototype.get;
  const mapSet = Map.prototype.set;
  const mapDelete = Map.prototype.delete;
  let nextCapId = 1;
  const Uint8ArrayC = Uint8Array;
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

  // A reply's file crosses as base64 text (every value crosses as JSON); a skill may give bytes or base64.
  function toBase64(bytes) {
    let out = "";
    const n = bytes.length;
    for (let i = 0; i < n; i += 3) {
      const a = bytes[i], b = i + 1 < n ? bytes[i + 1] : 0, c = i + 2 < n ? bytes[i + 2] : 0;
      out += B64[a >> 2] + B64[((a & 3) << 4) | (b >> 4)] +
        (i + 1 < n ? B64[((b & 15) << 2) | (c >> 6)] : "=") + (i + 2 < n ? B64[c & 63] : "=");
    }
    return out;
  }

  function withFileAsText(reply) {
    if (reply === null || typeof reply !== "object") return reply;
    const file = reply.file;
    if (file === null || typeof file !== "object" || !(file.data instanceof Uint8ArrayC)) return reply;
    return {
      text: reply.text, buttons: reply.buttons, ephemeral: reply.ephemeral, format: reply.format,
      file: { name: file.name, mimeType: file.mimeType, data: toBase64(file.data) },
    };
  }

  // Budgets counted here, per invocation, as the host counts them: one call past a budget goes out (the bot
  // records the refusal), the rest are refused in the isolate. A flood then costs the host's thread nothing: each
  // call that crossed to it was a task on its thread and an answer back (5,000 fetches at once: 620 ms of its CPU).
  const maxCapCalls = config.maxCapCalls;
  const groupOf = config.groupOf;
  const groupMax = config.groupMax;
  const groupLabel = config.groupLabel;
  function refuse(inv, st, message) {
    st.refused++;
    // The host hears the count at the first refusal, every hundredth and when the handler settles (see run).
    if (st.refused === 1 || st.refused % 100 === 0) capRaw(inv, 0, "", "" + st.refused);
    const err = new ErrorC(message);
    err.name = "SkillCapabilityError";
    err.code = "E_SKILL_BUDGET";
    return new PromiseC(function (resolve, reject) { reject(err); });
  }

  function capCall(inv, name, payload) {
    const json = stringify(payload === undefined ? null : payload);
    if (typeof json !== "string") throw new TypeErrorC("capability arguments must be JSON data");
    if (json.length > config.maxCapArgChars) {
      throw new RangeErrorC("capability arguments are too large (max " + config.maxCapArgChars + " characters)");
    }
    if (apply(mapGet, live, [inv]) === undefined) {
      // A capability object kept from an invocation that has settled: refused here, without asking the host.
      const stale = new ErrorC("capability used outside its invocation");
      stale.name = "SkillCapabilityError";
      stale.code = "E_SKILL_DENIED";
      return new PromiseC(function (resolve, reject) { reject(stale); });
    }
    const st = apply(mapGet, live, [inv]);
    if (apply(hasOwn, groupOf, [name])) {
      const g = groupOf[name];
      const n = (apply(mapGet, st.byGroup, [g]) || 0) + 1;
      apply(mapSet, st.byGroup, [g, n]);
      if (n > groupMax[g] + 1) return refuse(inv, st, "over its budget: at most " + groupMax[g] + " " + groupLabel[g] + " per invocation");
    }
    st.made++;
    if (st.made > maxCapCalls + 1) return refuse(inv, st, "over its budget: at most " + maxCapCalls + " capability calls per invocation");
    const capId = nextCapId++;
    const answer = new PromiseC(function (resolve) { apply(mapSet, pending, [capId, { resolve: resolve, inv: inv }]); });
    capRaw(inv, capId, name, json);
    return apply(promiseThen, answer, [function (out) {
      const res = parse(out);
      if (res.ok === true) return res.value === null ? undefined : res.value;
      const err = new ErrorC(res.error.message);
      err.name = "SkillCapabilityError";
      err.code = res.error.code;
      throw err;
    }]);
  }

  function makeContext(inv, kind, name, input) {
    const call = function (cap, payload) { return capCall(inv, cap, payload); };
    const ctx = {
      kind: kind,
      command: kind === "command" ? name : undefined,
      tool: kind === "tool" ? name : undefined,
      event: kind === "event" ? name : undefined,
      args: input.args,
      rawArgs: input.rawArgs,
      chat: freeze(input.chat),
      user: freeze(input.user),
      reply: function (reply) { return call("reply", withFileAsText(reply)); },
      send: function (target, reply) { return call("send", { target: target, reply: withFileAsText(reply) }); },
      storage: freeze({
        get: function (key) { return call("storage.get", { key: key }); },
        set: function (key, value) { return call("storage.set", { key: key, value: value }); },
        delete: function (key) { return call("storage.delete", { key: key }); },
        list: function (prefix) { return call("storage.list", { prefix: prefix === undefined ? "" : prefix }); },
      }),
      fetch: function (url, init) {
        return apply(promiseThen, call("fetch", { url: url, init: init === undefined ? null : init }), [function (res) {
          const body = res.body;
          return freeze({
            ok: res.status >= 200 && res.status < 300,
            status: res.status,
            url: res.url,
            headers: freeze(res.headers),
            body: body,
            text: function () { return Promise.resolve(body); },
            json: function () { return Promise.resolve().then(function () { return parse(body); }); },
          });
        }]);
      },
      files: freeze({
        list: function () { return call("files.list", null); },
        read: function (id) { return call("files.read", { id: id }); },
      }),
      settings: freeze({ get: function () { return call("settings.get", null); } }),
      llm: freeze({ complete: function (request) { return call("llm", request); } }),
      schedule: freeze({
        create: function (r) {
          const q = r === null || typeof r !== "object" ? {} : r;
          return call("schedule", { action: "create", cron: q.cron, at: q.at, command: q.command, timeZone: q.timeZone, missed: q.missed });
        },
        list: function () { return call("schedule", { action: "list" }); },
        cancel: function (id) { return call("schedule", { action: "delete", id: String(id) }); },
      }),
    };
    return freeze(ctx);
  }

  function describe(e) {
    try {
      if (e instanceof ErrorC) {
        const m = e.message;
        const c = e.code;
        return { code: typeof c === "string" ? c.slice(0, 40) : null, message: typeof m === "string" ? m.slice(0, 500) : "error" };
      }
      if (typeof e === "string") return { code: null, message: e.slice(0, 500) };
      return { code: null, message: "non-Error value thrown (" + typeof e + ")" };
    } catch (inner) {
      return { code: null, message: "unreadable error value" };
    }
  }

  // The last results by invocation: isolated-vm rejects a call when a promise the skill left behind rejects
  // unhandled (at the end of whichever task it happened in), even after the handler returned, or before it has;
  // the host then takes the handler's own result from here, waiting for it if the handler still runs.
  const results = new MapC();
  const mapKeys = Map.prototype.keys;
  const iterNext = Object.getPrototypeOf(new MapC().keys()).next;
  function keep(inv, out) {
    apply(mapSet, results, [inv, out]);
    if (results.size > 4) apply(mapDelete, results, [apply(iterNext, apply(mapKeys, results, []), []).value]);
  }
  function take(inv) {
    const out = apply(mapGet, results, [inv]);
    if (out !== undefined) {
      apply(mapDelete, results, [inv]);
      return out;
    }
    const running = apply(mapGet, live, [inv]);
    if (running === undefined) return undefined;
    return apply(promiseThen, running.done, [function (settled) {
      apply(mapDelete, results, [inv]);
      return settled;
    }]);
  }

  let definition;
  function skillDefinition() {
    if (definition === undefined) {
      const g = globalThis.skill;
      definition = g !== null && typeof g === "object" && g.default !== undefined ? g.default : g;
    }
    return definition;
  }

  function deliver(capId, out) {
    const entry = apply(mapGet, pending, [capId]);
    if (entry === undefined) return undefined;
    apply(mapDelete, pending, [capId]);
    if (apply(mapGet, live, [entry.inv]) === undefined) return "late";
    entry.resolve(out);
    return undefined;
  }

  async function run(inv, kind, name, inputJson) {
    let out;
    let settle;
    const done = new PromiseC(function (resolve) { settle = resolve; });
    const st = { done: done, made: 0, refused: 0, byGroup: new MapC() };
    apply(mapSet, live, [inv, st]);
    try {
      const def = skillDefinition();
      const table = def === null || typeof def !== "object" ? undefined : (kind === "tool" ? def.tools : kind === "event" ? def.events : def.commands);
      const handler = table !== null && typeof table === "object" && apply(hasOwn, table, [name]) ? table[name] : undefined;
      if (typeof handler !== "function") throw new TypeErrorC("the skill has no " + kind + " handler named " + stringify(name));
      const input = parse(inputJson);
      const ctx = makeContext(inv, kind, name, input);
      // Tools get the model's arguments, event handlers the event; both get the context second.
      const value = kind === "command" ? await handler(ctx) : await handler(input.args, ctx);
      // A plain string over the bound is refused by its length alone: serialising it first would flatten and copy
      // it inside the skill's small heap, and the garbage collector's work near the memory limit counts as CPU time.
      if (typeof value === "string" && value.length > config.maxResultChars) {
        out = stringify({ ok: false, tooLarge: true, error: { code: null, message: "result too large (" + value.length + " characters, max " + config.maxResultChars + ")" } });
      } else {
        let json;
        try {
          json = stringify({ ok: true, value: value === undefined ? null : value });
        } catch (e) {
          throw new TypeErrorC("the skill returned something that is not JSON data: " + describe(e).message);
        }
        if (typeof json !== "string") json = '{"ok":true,"value":null}';
        out = json.length > config.maxResultChars
          ? stringify({ ok: false, tooLarge: true, error: { code: null, message: "result too large (" + json.length + " characters, max " + config.maxResultChars + ")" } })
          : json;
      }
    } catch (e) {
      out = stringify({ ok: false, error: describe(e) });
    } finally {
      apply(mapDelete, live, [inv]);
      if (st.refused > 0) capRaw(inv, 0, "", "" + st.refused);
    }
    keep(inv, out);
    settle(out);
    return out;
  }

  return function entry(op, a, b, c, d) {
    if (op === "deliver") return deliver(a, b);
    if (op === "take") return take(a);
    return run(a, b, c, d);
  };
})`;
