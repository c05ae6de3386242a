// Runs one API read for a view: loading, the answer or the error, and a way to run it again.
// A newer run aborts the older one, so a slow answer never overwrites a newer one.
import { useCallback, useEffect, useRef, useState } from 'react';

export interface QueryState<T> {
  readonly data?: T;
  readonly error?: string;
  readonly loading: boolean;
  readonly run: () => void;
}

export function useQuery<T>(
  load: (signal: AbortSignal) => Promise<T>,
  onError: (e: unknown) => void,
  auto = true,
): QueryState<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: auto });
  const current = useRef<AbortController | undefined>(undefined);
  const run = useCallback(() => {
    current.current?.abort();
    const abort = new AbortController();
    current.current = abort;
    setState((s) => ({ ...s, loading: true }));
    load(abort.signal).then(
      (data) => {
        if (!abort.signal.aborted) setState({ data, loading: false });
      },
      (e: unknown) => {
        if (abort.signal.aborted) return;
        onError(e);
        setState({ error: e instanceof Error ? e.message : String(e), loading: false });
      },
    );
  }, [load, onError]);
  useEffect(() => {
    if (auto) run();
    return () => current.current?.abort();
  }, [auto, run]);
  return { ...state, run };
}
