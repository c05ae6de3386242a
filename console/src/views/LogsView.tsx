// @jsxRuntime automatic (how tsx must compile this file for the Node tests; Vite does already)
// Fleet logs: a query (newest lines, merged in time order) or a live follow over SSE, each line
// prefixed with its cluster and labelled with app and revision, markers where a cluster's stream
// broke.
import { useCallback, useEffect, useMemo, useRef, useState, type ReactElement } from 'react';
import { Problems, Toolbar } from './toolbar.tsx';
import { followEvents, getJson, type LogEvent, type LogsAnswer } from '../hub-api.ts';

const MAX_LINES = 5000;

export function LogsView({ onError }: { onError: (e: unknown) => void }): ReactElement {
  const [selector, setSelector] = useState('app=app2');
  const [cluster, setCluster] = useState('');
  const [since, setSince] = useState('15m');
  const [grep, setGrep] = useState('');
  const [events, setEvents] = useState<LogEvent[]>([]);
  const [warnings, setWarnings] = useState<string[]>([]);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [following, setFollowing] = useState(false);
  const follow = useRef<AbortController | undefined>(undefined);
  useEffect(() => () => follow.current?.abort(), []);
  const params = useMemo(
    () => ({ selector, cluster: cluster || undefined, since: since || undefined, grep: grep || undefined }),
    [selector, cluster, since, grep],
  );

  const query = useCallback(async () => {
    follow.current?.abort();
    setFollowing(false);
    setBusy(true);
    setError(undefined);
    try {
      const r = await getJson<LogsAnswer>('/api/v1/logs', { ...params, limit: String(MAX_LINES) });
      setEvents(r.lines);
      setWarnings([
        ...r.warnings.map((w) => (w.cluster ? `[${w.cluster}] ${w.message}` : w.message)),
        ...(r.truncated ? [`only the newest ${MAX_LINES} lines are shown`] : []),
      ]);
    } catch (e) {
      onError(e);
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }, [params, onError]);
  // The default selector's lines on arrival; after that, only on Query or Follow.
  const first = useRef(query);
  useEffect(() => void first.current(), []);

  const startFollow = (): void => {
    follow.current?.abort();
    const abort = new AbortController();
    follow.current = abort;
    setEvents([]);
    setWarnings([]);
    setError(undefined);
    setFollowing(true);
    followEvents(
      '/api/v1/logs/stream',
      { ...params, limit: '500' },
      (kind, data) => {
        const ev: LogEvent =
          kind === 'reconnected'
            ? {
                kind: 'warning',
                time: new Date().toISOString(),
                message: 'stream reconnected: it goes on after the last line shown',
              }
            : (JSON.parse(data) as LogEvent);
        setEvents((old) =>
          old.length >= MAX_LINES ? [...old.slice(old.length - MAX_LINES + 1), ev] : [...old, ev],
        );
      },
      abort.signal,
    ).then(
      () => setFollowing(false),
      (e: unknown) => {
        setFollowing(false);
        if (abort.signal.aborted) return;
        onError(e);
        setError(e instanceof Error ? e.message : String(e));
      },
    );
  };

  return (
    <section>
      <Toolbar onSubmit={() => void query()}>
        <label>
          Selector <input value={selector} onChange={(e) => setSelector(e.target.value)} required />
        </label>
        <label>
          Cluster{' '}
          <input value={cluster} onChange={(e) => setCluster(e.target.value)} placeholder="all" size={10} />
        </label>
        <label>
          Since <input value={since} onChange={(e) => setSince(e.target.value)} size={6} />
        </label>
        <label>
          Grep{' '}
          <input value={grep} onChange={(e) => setGrep(e.target.value)} placeholder="regular expression" />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Querying…' : 'Query'}
        </button>
        {following ? (
          <button type="button" onClick={() => follow.current?.abort()}>
            Stop following
          </button>
        ) : (
          <button type="button" onClick={startFollow}>
            Follow
          </button>
        )}
      </Toolbar>
      <Problems error={error} warnings={warnings} />
      <div className="logs" role="log">
        {events.map((ev, i) =>
          ev.kind === 'line' ? (
            <div key={i} className="logline">
              <span className="cluster">[{ev.cluster}]</span>{' '}
              <span className="muted">{ev.time.slice(11, 23)}</span>{' '}
              <span className="muted">
                {ev.namespace}/{ev.pod}
                {ev.app && ` app=${ev.app}`}
                {ev.revision && ` rev=${ev.revision}`}
              </span>{' '}
              {ev.message}
            </div>
          ) : (
            <div key={i} className={ev.kind === 'marker' ? 'marker' : 'warning'}>
              {ev.cluster && `[${ev.cluster}] `}
              {ev.message}
            </div>
          ),
        )}
        {events.length === 0 && !busy && <p className="muted">No lines yet: run a query or follow.</p>}
      </div>
    </section>
  );
}
