/** The config module's public entry. */
export { configSchema, type Config, type ConfigInput } from "./schema.ts";
export {
  loadConfig,
  parseConfig,
  ConfigError,
  setPath,
  CONFIG_FILES,
  type ConfigIssue,
  type LoadedConfig,
  type LoadOptions,
} from "./load.ts";
export { envOverrides, ENV_ALIASES, type EnvOverride } from "./env.ts";
export { exampleFor } from "./examples.ts";
