// @jsxRuntime automatic (how tsx must compile this file for the Node tests; Vite does already)
// PromQL over the whole fleet through the hub's Prometheus API: a table for instant queries, a
// chart for range queries, and the warnings naming clusters that did not answer.
import { useCallback, useEffect, useState, type ReactElement } from 'react';
import { Problems, Toolbar } from './toolbar.tsx';
import { useQuery } from './use-query.ts';
import { chartOf, seriesLabel } from '../series-chart.ts';
import { promQuery, type PromAnswer } from '../hub-api.ts';

const W = 900;
const H = 260;
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4d7c0f', '#be185d'];

export function MetricsView({ onError }: { onError: (e: unknown) => void }): ReactElement {
  // What a newcomer wants to see first: requests per second of every app in every cluster.
  const [expr, setExpr] = useState('sum by (cluster, app) (rate(http_requests_total[1m]))');
  const [range, setRange] = useState('15m');
  const load = useCallback(
    (signal: AbortSignal): Promise<PromAnswer> => {
      const now = Date.now() / 1000;
      const seconds = { '15m': 900, '1h': 3600, '6h': 21600 }[range];
      return seconds
        ? promQuery(
            '/api/v1/query_range',
            {
              query: expr,
              start: String(now - seconds),
              end: String(now),
              step: String(Math.max(15, Math.round(seconds / 120))),
            },
            signal,
          )
        : promQuery('/api/v1/query', { query: expr, time: String(now) }, signal);
    },
    [expr, range],
  );
  const q = useQuery(load, onError, false);
  // Run the default query once on arrival; after that, only on Run (not on every keystroke).
  useEffect(() => q.run(), []);
  const answer = q.data;
  // A 400/422 is an answer with the hub's message (it names what is wrong with the query).
  const error = q.error ?? (answer?.status === 'error' ? answer.error : undefined);
  const data = answer?.status === 'success' ? answer.data : undefined;
  const chart = data?.resultType === 'matrix' ? chartOf(data.result, W, H) : undefined;
  return (
    <section>
      <Toolbar onSubmit={q.run}>
        <input
          className="promql"
          aria-label="PromQL"
          value={expr}
          onChange={(e) => setExpr(e.target.value)}
        />
        <select value={range} onChange={(e) => setRange(e.target.value)} aria-label="range">
          <option value="">instant</option>
          <option value="15m">last 15 min</option>
          <option value="1h">last hour</option>
          <option value="6h">last 6 hours</option>
        </select>
        {/* Live while running: a new Run aborts the slow one (useQuery) instead of waiting for it. */}
        <button type="submit">{q.loading ? 'Running…' : 'Run'}</button>
      </Toolbar>
      <Problems error={error} warnings={answer?.warnings} />
      {data?.resultType === 'vector' && (
        <table>
          <thead>
            <tr>
              <th>series</th>
              <th>value</th>
            </tr>
          </thead>
          <tbody>
            {data.result.map((s) => (
              <tr key={seriesLabel(s.metric)}>
                <td className="mono">{seriesLabel(s.metric)}</td>
                <td className="mono">{s.value[1]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {(data?.resultType === 'scalar' || data?.resultType === 'string') && (
        <p className="mono">{data.result[1]}</p>
      )}
      {chart && (
        <div>
          <svg width={W} height={H} className="chart" role="img" aria-label="range query chart">
            {chart.lines.map((l, i) => (
              <polyline
                key={l.label}
                points={l.points}
                fill="none"
                stroke={COLORS[i % COLORS.length]}
                strokeWidth={1.5}
              >
                <title>{l.label}</title>
              </polyline>
            ))}
          </svg>
          <p className="muted">
            min {chart.min} · max {chart.max} · {new Date(chart.start * 1000).toISOString()} →{' '}
            {new Date(chart.end * 1000).toISOString()}
          </p>
          <ul className="legend-list">
            {chart.lines.map((l, i) => (
              <li key={l.label} className="mono" style={{ color: COLORS[i % COLORS.length] }}>
                {l.label}
              </li>
            ))}
          </ul>
        </div>
      )}
      {data && data.resultType !== 'scalar' && data.resultType !== 'string' && data.result.length === 0 && (
        <p className="muted">Empty result.</p>
      )}
    </section>
  );
}
