/** Loading API data in a component: the value, the error, and a way to load again. */
import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiFailure } from "./api.ts";

/** The state of one load. */
export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  isLoading: boolean;
  reload(): void;
}

/** Run `load` when `deps` change; keep its answer or its error message. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [isLoading, setLoading] = useState(true);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let isCurrent = true;
    setLoading(true);
    load().then(
      (value) => {
        if (!isCurrent) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (!isCurrent) return;
        setError(messageOf(e));
        setLoading(false);
      },
    );
    return () => {
      isCurrent = false;
    };
  }, [...deps, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { data, error, isLoading, reload };
}

/** A message safe to show for a failed call. */
export function messageOf(e: unknown): string {
  if (e instanceof ApiFailure) return `${e.message} (${e.code})`;
  return e instanceof Error ? e.message : String(e);
}
