// @jsxRuntime automatic (how tsx must compile this file for the Node tests; Vite does already)
// Regions → clusters → apps with their revisions, global-traffic health and MCS imports per
// cluster, and the service graph from traces with cross-cluster edges marked.
import { useCallback, useState, type ReactElement } from 'react';
import { edgeLabel, edgeLabelPoint, edgePath, layoutGraph, NODE_H, NODE_W } from '../graph-layout.ts';
import { getJson, type TopologyAnswer } from '../hub-api.ts';
import { Problems } from './toolbar.tsx';
import { useQuery } from './use-query.ts';

function ServiceGraphView({ topology }: { topology: TopologyAnswer }): ReactElement {
  const { nodes, edges } = topology.serviceGraph;
  if (nodes.length === 0)
    return <p className="muted">No calls in this window (the graph is built from traces).</p>;
  const layout = layoutGraph(
    nodes,
    topology.clusters.map((c) => c.name),
  );
  return (
    <svg className="graph" width={layout.width} height={layout.height} role="img" aria-label="service graph">
      <defs>
        <marker
          id="arrow"
          viewBox="0 0 10 10"
          refX="10"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto-start-reverse"
        >
          <path d="M 0 0 L 10 5 L 0 10 z" />
        </marker>
      </defs>
      {layout.columns.map((c) => (
        <text key={c.name} x={c.x} y={20} className="column">
          {c.name}
        </text>
      ))}
      {edges.map((e) => {
        // The same ids the hub gives its nodes (build-topology.ts).
        const from = layout.nodes.get(
          `${e.source.cluster ?? '?'}/${e.source.namespace ?? '?'}/${e.source.service}`,
        );
        const to = layout.nodes.get(
          `${e.target.cluster ?? '?'}/${e.target.namespace ?? '?'}/${e.target.service}`,
        );
        if (!from || !to) return null;
        const m = e as typeof e & {
          callsPerSecond?: number;
          errorRate?: number;
          p50Ms?: number;
          p99Ms?: number;
        };
        const at = edgeLabelPoint(from, to);
        return (
          <g key={`${from.id}>${to.id}`}>
            <path
              d={edgePath(from, to)}
              className={`edge${e.crossCluster ? ' cross' : ''}${e.eastWest ? ' eastwest' : ''}`}
              markerEnd="url(#arrow)"
            >
              <title>
                {`${e.source.service} → ${e.target.service}${e.crossCluster ? ' (crosses clusters' + (e.eastWest ? ', through an MCS import)' : ')') : ''}\n`}
                {`${(m.callsPerSecond ?? 0).toFixed(2)} calls/s, errors ${((m.errorRate ?? 0) * 100).toFixed(1)} %, p50 ${m.p50Ms ?? '–'} ms, p99 ${m.p99Ms ?? '–'} ms`}
              </title>
            </path>
            <text
              x={at.x}
              y={at.y}
              textAnchor={from.x === to.x ? 'start' : 'middle'}
              className={`edge-label${(m.errorRate ?? 0) > 0 ? ' failing' : ''}`}
            >
              {edgeLabel(m.callsPerSecond, m.errorRate)}
            </text>
          </g>
        );
      })}
      {[...layout.nodes.values()].map((n) => (
        <g key={n.id} transform={`translate(${n.x},${n.y})`}>
          <rect width={NODE_W} height={NODE_H} rx={6} className="node" />
          <text x={NODE_W / 2} y={NODE_H / 2 + 4} textAnchor="middle">
            {n.service}
          </text>
        </g>
      ))}
    </svg>
  );
}

export function TopologyView({ onError }: { onError: (e: unknown) => void }): ReactElement {
  const [window, setWindow] = useState('5m');
  const load = useCallback(
    (signal: AbortSignal) => getJson<TopologyAnswer>('/api/v1/topology', { window }, signal),
    [window],
  );
  const q = useQuery(load, onError);
  const t = q.data;
  return (
    <section>
      <div className="toolbar">
        <label>
          Service-graph window{' '}
          <select value={window} onChange={(e) => setWindow(e.target.value)}>
            {['1m', '5m', '15m', '1h', '6h'].map((w) => (
              <option key={w}>{w}</option>
            ))}
          </select>
        </label>
        <button onClick={q.run}>{q.loading ? 'Loading…' : 'Refresh'}</button>
      </div>
      <Problems error={q.error} warnings={t?.warnings} />
      {t && (
        <>
          <div className="regions">
            {t.regions.map((r) => (
              <div key={r.name} className="region">
                <h2>{r.name}</h2>
                {t.clusters
                  .filter((c) => c.region === r.name)
                  .map((c) => (
                    <div key={c.name} className={`cluster${c.reachable ? '' : ' unreachable'}`}>
                      <h3>
                        {c.name} {c.zone && <span className="muted">{c.zone}</span>}{' '}
                        <span className={`badge ${c.ready && c.reachable ? 'ok' : 'bad'}`}>
                          {!c.reachable ? 'unreachable' : c.ready ? 'ready' : 'not ready'}
                        </span>
                      </h3>
                      <table>
                        <thead>
                          <tr>
                            <th>app</th>
                            <th>namespace</th>
                            <th>workload</th>
                            <th>Application</th>
                            <th>revision</th>
                          </tr>
                        </thead>
                        <tbody>
                          {c.apps.map((a) => (
                            <tr key={`${a.namespace}/${a.workload}`}>
                              <td>{a.app}</td>
                              <td>{a.namespace}</td>
                              <td>{a.workload}</td>
                              <td>{a.application ?? ''}</td>
                              <td>{a.revision ?? ''}</td>
                            </tr>
                          ))}
                        </tbody>
                      </table>
                      {c.applications.map((a) => (
                        <div key={`${a.namespace}/${a.name}`} className="line">
                          Application {a.namespace}/{a.name}: {a.phase ?? 'unknown'}
                          {a.revision !== undefined && `, revision ${a.revision}`}
                        </div>
                      ))}
                      {c.globalTraffic.map((g) => (
                        <div key={`${g.namespace}/${g.name}`} className="line">
                          {g.hosts.join(', ')}:{' '}
                          <span className={`badge ${g.healthy && !g.drained ? 'ok' : 'bad'}`}>
                            {g.drained ? 'drained' : g.healthy ? 'healthy' : 'unhealthy'}
                          </span>
                          {g.reason && <span className="muted"> {g.reason}</span>}
                        </div>
                      ))}
                      {c.imports.map((i) => (
                        <div key={`${i.namespace}/${i.name}`} className="line">
                          imports {i.namespace}/{i.name} from {i.sourceClusters.join(', ') || 'no cluster'}
                          {i.activeGroup && <span className="muted"> (active: {i.activeGroup})</span>}
                        </div>
                      ))}
                    </div>
                  ))}
              </div>
            ))}
          </div>
          <h2>Service graph ({t.window})</h2>
          <p className="legend">
            <span className="key cross" /> crosses clusters <span className="key eastwest" /> through an MCS
            import
          </p>
          <ServiceGraphView topology={t} />
        </>
      )}
    </section>
  );
}
