/**
 * The core's one public entry. Adapters, skills, the marketplace and schedules import from here only
 * (`test/unit/boundaries.test.ts` keeps that true).
 */
export * from "./model.ts";
export * from "./errors.ts";
export * from "./permissions.ts";
export * from "./commands.ts";
export {
  defineRoute,
  ApiError,
  API_SCOPES,
  type ApiRoute,
  type ApiRequest,
  type ApiAnswer,
  type ApiMethod,
  type ApiScope,
  type Principal,
  type RouteAccess,
  type RouteErrorInfo,
} from "./http/routes.ts";
export { csvCell, csvOf } from "./http/csv.ts";
export { cleanChatText, neutraliseMentions, type CleanOptions } from "./hygiene.ts";
export type * from "./core.ts";
export { systemClock, turnClock, pickServices } from "./core.ts";
export { createEventBus, type ChatEvent, type ChatEventType, type EventBus } from "./events.ts";
export type * from "./storage/types.ts";
export { openStore, memoryStore, maskUrl, type OpenStoreOptions } from "./storage/open.ts";
export { CORE_MIGRATIONS } from "./storage/migrations.ts";
export {
  createEphemeral,
  rememberOnce,
  countInWindow,
  onceChecker,
  onceMarkCount,
  EPHEMERAL_NAMESPACE,
  type EphemeralOptions,
} from "./ephemeral.ts";
export {
  deliveryDedupe,
  SequenceWindow,
  SEQUENCE_WINDOW_SIZE,
  type DeliveryCheck,
  type DeliveryKey,
} from "./router/dedupe.ts";
export type { Keyv } from "keyv";
export type { InboundJournal, JournalEntry, JournalItem, JournalReviver } from "./journal/journal.ts";
export type { SharedWindows } from "./router/shared-windows.ts";
