/**
 * The adapter kit shared by every platform adapter: the Reply Markdown subset as tokens and its three dialects,
 * splitting at a platform limit, the outbound limiter (clustered through Redis when configured), health and
 * reconnect supervision, and throttled edits for streaming.
 */
export * from "./markdown.ts";
export * from "./dialects.ts";
export * from "./split.ts";
export * from "./outbound-limiter.ts";
export * from "./health.ts";
export * from "./edit-throttle.ts";
export * from "./render.ts";
export * from "./files.ts";
export * from "./attachments.ts";
