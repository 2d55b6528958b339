/**
 * Which models a request may reach: a model's name, or an alias naming a fallback chain (`gateway.aliases`),
 * within what the key allows. Unknown names are 404 and names the key may not use are 403, as OpenAI answers.
 */
import type { LlmService, ModelConfig } from "../llm/index.ts";
import { GatewayError } from "./errors.ts";

/** One name a client may ask for. */
export interface RouteName {
  id: string;
  kind: "model" | "alias";
  /** The models tried, in order. */
  chain: string[];
}

/** Resolves names to chains. */
export class ModelRouter {
  readonly #registry: LlmService["registry"];
  readonly #aliases: Readonly<Record<string, readonly string[]>>;

  constructor(registry: LlmService["registry"], aliases: Readonly<Record<string, readonly string[]>>) {
    this.#registry = registry;
    this.#aliases = aliases;
  }

  /** Every name, models (highest priority first) then aliases; only chat models. */
  names(): RouteName[] {
    const models = this.#registry
      .list()
      .filter((m) => m.capabilities.includes("chat"))
      .map((m): RouteName => ({ id: m.name, kind: "model", chain: [m.name] }));
    const aliases = Object.entries(this.#aliases).map(
      ([id, chain]): RouteName => ({ id, kind: "alias", chain: [...chain] }),
    );
    return [...models, ...aliases.filter((a) => !models.some((m) => m.id === a.id))];
  }

  /** The names a key may use (`allowed` null: all). */
  namesFor(allowed: readonly string[] | null): RouteName[] {
    return this.names().filter((n) => allowed === null || allowed.includes(n.id));
  }

  /** The chain for `name`, or a 404/403 in OpenAI's shape. */
  resolve(name: string, allowed: readonly string[] | null): ModelConfig[] {
    const route = this.names().find((n) => n.id === name);
    if (route === undefined)
      throw new GatewayError(404, `The model '${name}' does not exist or you do not have access to it.`, {
        type: "invalid_request_error",
        param: "model",
        code: "model_not_found",
      });
    if (allowed !== null && !allowed.includes(name))
      throw new GatewayError(403, `This key may not use the model '${name}'.`, {
        type: "permission_error",
        param: "model",
        code: "model_not_allowed",
      });
    const chain = this.#registry.chain(route.chain).filter((m) => m.capabilities.includes("chat"));
    if (chain.length === 0)
      throw new GatewayError(503, `The alias '${name}' names no configured model.`, {
        type: "server_error",
        param: "model",
        code: "model_not_configured",
      });
    return chain;
  }
}
