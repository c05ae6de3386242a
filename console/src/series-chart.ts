// Scales Prometheus range-query results (a matrix) into SVG polylines for the metrics view.
import type { Labels, MatrixSeries } from '../../src/observe/metrics/prom-merge.ts';

export interface ChartLine {
  readonly label: string;
  readonly points: string;
}

export interface Chart {
  readonly lines: readonly ChartLine[];
  readonly min: number;
  readonly max: number;
  readonly start: number;
  readonly end: number;
}

/** `name{a="b", …}`, as Prometheus prints a series. */
export function seriesLabel(metric: Labels): string {
  const { __name__: name = '', ...rest } = metric;
  const labels = Object.keys(rest)
    .sort()
    .map((k) => `${k}="${rest[k] ?? ''}"`)
    .join(', ');
  return `${name}{${labels}}`;
}

export function chartOf(series: readonly MatrixSeries[], width: number, height: number): Chart {
  let min = Infinity;
  let max = -Infinity;
  let start = Infinity;
  let end = -Infinity;
  for (const s of series)
    for (const [t, v] of s.values) {
      const n = Number(v);
      start = Math.min(start, t);
      end = Math.max(end, t);
      if (!Number.isFinite(n)) continue;
      min = Math.min(min, n);
      max = Math.max(max, n);
    }
  if (!Number.isFinite(min)) return { lines: [], min: 0, max: 0, start: 0, end: 0 };
  const span = max - min || 1;
  const tspan = end - start || 1;
  const lines = series.map((s) => ({
    label: seriesLabel(s.metric),
    points: s.values
      .filter(([, v]) => Number.isFinite(Number(v)))
      .map(
        ([t, v]) =>
          `${(((t - start) / tspan) * width).toFixed(1)},${(height - ((Number(v) - min) / span) * height).toFixed(1)}`,
      )
      .join(' '),
  }));
  return { lines, min, max, start, end };
}
