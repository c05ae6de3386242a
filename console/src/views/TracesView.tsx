// @jsxRuntime automatic (how tsx must compile this file for the Node tests; Vite does already)
// Trace search (service, cluster, namespace, minimum duration, errors) and the trace view: a
// waterfall where every hop that left a cluster is marked with the cluster it came from.
import { useCallback, useState, type ReactElement } from 'react';
import { getJson, type TraceSummaryJson, type TraceViewJson } from '../hub-api.ts';
import { waterfall } from '../span-waterfall.ts';
import { Problems, Toolbar } from './toolbar.tsx';
import { useQuery } from './use-query.ts';

function TraceDetail({ id, onError }: { id: string; onError: (e: unknown) => void }): ReactElement {
  const load = useCallback(
    (signal: AbortSignal) => getJson<TraceViewJson>(`/api/v1/traces/${encodeURIComponent(id)}`, {}, signal),
    [id],
  );
  const q = useQuery(load, onError);
  const t = q.data;
  if (q.error) return <p className="error">{q.error}</p>;
  if (!t) return <p className="muted">Loading trace {id}…</p>;
  const rows = waterfall(t.spans);
  const crossings = t.spans.filter((s) => s.crossCluster).length;
  return (
    <div>
      <p>
        <a href="#/traces">← search</a>
      </p>
      <h2>
        {t.rootService}: {t.rootName}
      </h2>
      <p className="muted">
        {t.startTime} · {t.durationMs} ms · {t.spanCount} spans · clusters {t.clusters.join(', ')} ·{' '}
        {crossings} cross-cluster hop{crossings === 1 ? '' : 's'}
        {t.error && <span className="badge bad">error</span>}
      </p>
      <div className="waterfall">
        {rows.map(({ span: s, depth, offsetPct, widthPct }) => (
          <div key={s.spanId} className={`span${s.status === 'error' ? ' error' : ''}`}>
            <div className="label" style={{ paddingLeft: `${depth * 14}px` }} title={`${s.kind} ${s.name}`}>
              {s.crossCluster && (
                <span className="badge cross" title={`called from ${s.parentCluster ?? ''}`}>
                  ⇄ {s.parentCluster} → {s.cluster}
                </span>
              )}{' '}
              <strong>{s.service}</strong> {s.name}{' '}
              <span className="muted">
                {s.cluster}
                {s.app && ` app=${s.app}`}
                {s.revision && ` rev=${s.revision}`}
              </span>
            </div>
            <div className="bar-track">
              <div className="bar" style={{ marginLeft: `${offsetPct}%`, width: `${widthPct}%` }} />
            </div>
            <div className="ms">{s.durationMs} ms</div>
          </div>
        ))}
      </div>
    </div>
  );
}

export function TracesView({
  traceId,
  onError,
}: {
  traceId?: string;
  onError: (e: unknown) => void;
}): ReactElement {
  const [form, setForm] = useState({ service: '', cluster: '', namespace: '', minDuration: '', error: '' });
  const [submitted, setSubmitted] = useState(form);
  const load = useCallback(
    (signal: AbortSignal) =>
      getJson<{ traces: TraceSummaryJson[] }>(
        '/api/v1/traces',
        { ...submitted, error: submitted.error || undefined, limit: '50' },
        signal,
      ),
    [submitted],
  );
  const q = useQuery(load, onError, !traceId);
  if (traceId) return <TraceDetail id={traceId} onError={onError} />;
  const field = (k: keyof typeof form, label: string, placeholder = ''): ReactElement => (
    <label>
      {label}{' '}
      <input
        value={form[k]}
        placeholder={placeholder}
        size={10}
        onChange={(e) => setForm({ ...form, [k]: e.target.value })}
      />
    </label>
  );
  return (
    <section>
      <Toolbar onSubmit={() => setSubmitted({ ...form })}>
        {field('service', 'Service')}
        {field('cluster', 'Cluster')}
        {field('namespace', 'Namespace')}
        {field('minDuration', 'Min duration', '250ms')}
        <label>
          Status{' '}
          <select value={form.error} onChange={(e) => setForm({ ...form, error: e.target.value })}>
            <option value="">any</option>
            <option value="true">errors</option>
            <option value="false">no errors</option>
          </select>
        </label>
        <button type="submit">{q.loading ? 'Searching…' : 'Search'}</button>
      </Toolbar>
      <Problems error={q.error} />
      <table>
        <thead>
          <tr>
            <th>start</th>
            <th>root</th>
            <th>duration</th>
            <th>spans</th>
            <th>clusters</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {q.data?.traces.map((t) => (
            <tr key={t.traceId}>
              <td>
                <a href={`#/traces/${t.traceId}`}>{t.startTime}</a>
              </td>
              <td>
                {t.rootService}: {t.rootName}
              </td>
              <td>{t.durationMs} ms</td>
              <td>{t.spanCount}</td>
              <td>{t.clusters.join(', ')}</td>
              <td>{t.error && <span className="badge bad">error</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {q.data?.traces.length === 0 && <p className="muted">No traces match.</p>}
    </section>
  );
}
