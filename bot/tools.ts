/** The registries through which modules offer things to each other: LLM tools and skill capabilities. */
import type { CapabilityCall, CapabilityRegistry, ToolProvider, ToolRegistry, ToolSpec } from "./core.ts";
import { SwitchboardError } from "./errors.ts";

/** Tools from every provider, found by name. */
export function createToolRegistry(): ToolRegistry {
  const providers = new Set<ToolProvider>();
  return {
    register(provider) {
      providers.add(provider);
      return () => providers.delete(provider);
    },
    list(chatKey) {
      const out: ToolSpec[] = [];
      for (const p of providers) out.push(...p.tools(chatKey));
      return out;
    },
    async call(name, args, ctx) {
      for (const p of providers) {
        if (p.tools(ctx.chatKey).some((t) => t.name === name)) return p.call(name, args, ctx);
      }
      throw new SwitchboardError("E_NOT_FOUND", `no tool ${name} in ${ctx.chatKey}`, {
        chatMessage: `There is no tool ${name} here.`,
      });
    },
  };
}

/** Capabilities offered to skills, one handler per name. */
export function createCapabilityRegistry(): CapabilityRegistry {
  const handlers = new Map<string, (call: CapabilityCall) => Promise<unknown>>();
  return {
    provide(name, handler) {
      if (handlers.has(name)) throw new SwitchboardError("E_CONFLICT", `capability ${name} is already provided`);
      handlers.set(name, handler);
      return () => handlers.delete(name);
    },
    get: (name) => handlers.get(name),
  };
}
