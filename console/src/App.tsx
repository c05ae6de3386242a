// @jsxRuntime automatic (how tsx must compile this file for the Node tests; Vite does already)
// The console shell: sign-in with a bearer token, then one tab per view. Views live in the URL
// hash (#/traces/<id>) so a link to a trace or a query can be shared.
import { useEffect, useState, type FormEvent, type ReactElement } from 'react';
import { ApiError, getJson, token } from './hub-api.ts';
import { LogsView } from './views/LogsView.tsx';
import { MetricsView } from './views/MetricsView.tsx';
import { TopologyView } from './views/TopologyView.tsx';
import { TracesView } from './views/TracesView.tsx';

const TABS = [
  ['topology', 'Topology'],
  ['logs', 'Logs'],
  ['traces', 'Traces'],
  ['metrics', 'Metrics'],
] as const;

function useHash(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = (): void => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
}

function SignIn({ onSignedIn, error }: { onSignedIn: () => void; error?: string }): ReactElement {
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState(error);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    token.set(value);
    try {
      // Any observability read proves the token works and is allowed to read.
      await getJson('/api/v1/topology', { window: '1m' });
      onSignedIn();
    } catch (err) {
      token.clear();
      setProblem(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <form className="signin" onSubmit={(e) => void submit(e)}>
      <h1>Meridian</h1>
      <p>
        Sign in with a Kubernetes bearer token of the hub cluster whose identity is bound to the{' '}
        <code>meridian-viewer</code> ClusterRole, for example:
      </p>
      <pre>kubectl --context hub create token viewer</pre>
      <textarea
        aria-label="token"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        rows={4}
        placeholder="eyJhbGciOi…"
      />
      <button type="submit" disabled={!value.trim()}>
        Sign in
      </button>
      {problem && <p className="error">{problem}</p>}
      <p className="hint">The token stays in this tab (sessionStorage) and is sent only to this hub.</p>
    </form>
  );
}

export function App(): ReactElement {
  const [signedIn, setSignedIn] = useState(Boolean(token.get()));
  const [expired, setExpired] = useState<string>();
  const [tab = 'topology', ...rest] = useHash();
  const onAuthError = (e: unknown): void => {
    if (e instanceof ApiError && e.status === 401) {
      token.clear();
      setExpired(e.message);
      setSignedIn(false);
    }
  };
  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} error={expired} />;
  return (
    <div className="app">
      <header>
        <strong>Meridian</strong>
        <nav>
          {TABS.map(([id, label]) => (
            <a key={id} href={`#/${id}`} className={tab === id ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <button
          className="link"
          onClick={() => {
            token.clear();
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        {tab === 'logs' ? (
          <LogsView onError={onAuthError} />
        ) : tab === 'traces' ? (
          <TracesView traceId={rest[0]} onError={onAuthError} />
        ) : tab === 'metrics' ? (
          <MetricsView onError={onAuthError} />
        ) : (
          <TopologyView onError={onAuthError} />
        )}
      </main>
    </div>
  );
}
