/** Telegram failures mapped to catalog errors, in one place. */
import { GrammyError, HttpError } from "grammy";
import { SwitchboardError } from "../../bot/index.ts";

/** The delay a 429 asks for, in ms; undefined for anything else. */
export function retryAfterMsOf(error: unknown): number | undefined {
  if (error instanceof GrammyError && error.error_code === 429) {
    const seconds = error.parameters.retry_after;
    return typeof seconds === "number" ? seconds * 1000 : 1_000;
  }
  return undefined;
}

/** True for "message is not modified": the edit asked for what is already shown. */
export function isNotModified(error: unknown): boolean {
  return error instanceof GrammyError && error.error_code === 400 && /message is not modified/i.test(error.description);
}

/** True when retrying cannot help: the token is wrong or revoked. */
export function isFatalTelegramError(error: unknown): boolean {
  return (
    error instanceof GrammyError && (error.error_code === 401 || (error.error_code === 404 && error.method === "getMe"))
  );
}

/** Turn whatever a Bot API call threw into a `SwitchboardError` (`E_ADAPTER`), keeping the layer that failed. */
export function toTelegramError(error: unknown, action: string): SwitchboardError {
  if (error instanceof SwitchboardError) return error;
  if (error instanceof GrammyError) {
    const chatMessage =
      error.error_code === 403
        ? "I can't post in that chat (I was blocked or removed)."
        : error.error_code === 429
          ? "Telegram is rate limiting me; please try again shortly."
          : undefined;
    return new SwitchboardError(
      "E_ADAPTER",
      `telegram refused ${error.method} (${action}): ${error.error_code} ${error.description}`,
      {
        cause: error,
        details: {
          platform: "telegram",
          layer: "platform",
          method: error.method,
          errorCode: error.error_code,
          description: error.description,
        },
        ...(chatMessage === undefined ? {} : { chatMessage }),
      },
    );
  }
  if (error instanceof HttpError) {
    return new SwitchboardError("E_ADAPTER", `telegram unreachable (${action}): ${error.message}`, {
      cause: error,
      details: { platform: "telegram", layer: "network" },
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new SwitchboardError("E_ADAPTER", `telegram ${action} failed: ${message}`, {
    cause: error,
    details: { platform: "telegram", layer: "adapter" },
  });
}
