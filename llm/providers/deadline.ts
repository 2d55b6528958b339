/** A per-call deadline joined with the caller's abort signal, telling the two apart afterwards. */

/** Signal for one call: aborts on the caller's signal or after `timeoutMs`. Call `done()` when finished. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** True when the deadline (not the caller) aborted the call. */
  readonly timedOut: boolean;
  done(): void;
}

/** Start a deadline of `timeoutMs` for one call under `parent`. */
export function startDeadline(parent: AbortSignal, timeoutMs: number): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`timed out after ${timeoutMs} ms`));
  }, timeoutMs);
  timer.unref?.();
  const onAbort = (): void => controller.abort(parent.reason);
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    done() {
      clearTimeout(timer);
      parent.removeEventListener("abort", onAbort);
    },
  };
}
