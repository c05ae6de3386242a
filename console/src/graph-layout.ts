// Lays the service graph out for the topology view: one column per cluster (clusters of a region
// side by side, regions in the hub's order), the services of a cluster stacked in that column, so
// an edge that crosses a column boundary is visibly a cross-cluster call.

export interface GraphNodeIn {
  readonly id: string;
  readonly service: string;
  readonly cluster?: string;
}

export interface PlacedNode {
  readonly id: string;
  readonly service: string;
  readonly column: string;
  readonly x: number;
  readonly y: number;
}

export interface GraphLayout {
  readonly width: number;
  readonly height: number;
  readonly columns: readonly { name: string; x: number }[];
  readonly nodes: ReadonlyMap<string, PlacedNode>;
}

export const NODE_W = 150;
export const NODE_H = 36;
const COL_GAP = 70;
const ROW_GAP = 24;
const TOP = 40;

/** Column order: the clusters as the hub lists them, then any cluster only the graph knows, then "unknown". */
export function layoutGraph(nodes: readonly GraphNodeIn[], clusterOrder: readonly string[]): GraphLayout {
  const UNKNOWN = '(no cluster)';
  const byColumn = new Map<string, GraphNodeIn[]>();
  for (const c of clusterOrder) byColumn.set(c, []);
  const extra: string[] = [];
  for (const n of nodes) {
    const col = n.cluster ?? UNKNOWN;
    if (!byColumn.has(col)) {
      byColumn.set(col, []);
      extra.push(col);
    }
    byColumn.get(col)?.push(n);
  }
  const order = [
    ...clusterOrder,
    ...extra.filter((c) => c !== UNKNOWN).sort(),
    ...(extra.includes(UNKNOWN) ? [UNKNOWN] : []),
  ];
  const placed = new Map<string, PlacedNode>();
  const columns: { name: string; x: number }[] = [];
  let rows = 0;
  order.forEach((name, i) => {
    const x = 20 + i * (NODE_W + COL_GAP);
    columns.push({ name, x });
    const members = [...(byColumn.get(name) ?? [])].sort(
      (a, b) => a.service.localeCompare(b.service) || a.id.localeCompare(b.id),
    );
    rows = Math.max(rows, members.length);
    members.forEach((n, j) =>
      placed.set(n.id, { id: n.id, service: n.service, column: name, x, y: TOP + j * (NODE_H + ROW_GAP) }),
    );
  });
  return {
    // A column's loops and labels bulge into the gap on its right, the last column's included.
    width: Math.max(1, order.length) * (NODE_W + COL_GAP) + 20,
    height: TOP + Math.max(1, rows) * (NODE_H + ROW_GAP) + 10,
    columns,
    nodes: placed,
  };
}

/** An SVG path from the right (or left) side of one node to the other, curved so parallel edges stay apart. */
export function edgePath(from: PlacedNode, to: PlacedNode): string {
  const sameColumn = from.x === to.x;
  const y1 = from.y + NODE_H / 2;
  const y2 = to.y + NODE_H / 2;
  if (sameColumn) {
    // Loop out to the right of the column and back in.
    const x = from.x + NODE_W;
    const bulge = 40 + Math.abs(y2 - y1) / 4;
    return `M ${x} ${y1} C ${x + bulge} ${y1}, ${x + bulge} ${y2}, ${x} ${y2}`;
  }
  const rightward = to.x > from.x;
  const x1 = rightward ? from.x + NODE_W : from.x;
  const x2 = rightward ? to.x : to.x + NODE_W;
  const mid = (x1 + x2) / 2;
  return `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`;
}

/** Where an edge's label goes: the middle of the curve {@link edgePath} draws. */
export function edgeLabelPoint(from: PlacedNode, to: PlacedNode): { x: number; y: number } {
  const y1 = from.y + NODE_H / 2;
  const y2 = to.y + NODE_H / 2;
  if (from.x === to.x) {
    // The loop's far point: 3/4 of the bulge out (a cubic with both controls at the bulge).
    const bulge = 40 + Math.abs(y2 - y1) / 4;
    return { x: from.x + NODE_W + (3 * bulge) / 4 + 4, y: (y1 + y2) / 2 };
  }
  const rightward = to.x > from.x;
  const x1 = rightward ? from.x + NODE_W : from.x;
  const x2 = rightward ? to.x : to.x + NODE_W;
  return { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4 };
}

/** An edge's short label: its rate, and its error share when there are errors. */
export function edgeLabel(callsPerSecond: number | undefined, errorRate: number | undefined): string {
  const rate = callsPerSecond ?? 0;
  const r = rate >= 10 ? rate.toFixed(0) : rate.toFixed(1);
  const err = errorRate ?? 0;
  return err > 0 ? `${r}/s · ${(err * 100).toFixed(err < 0.1 ? 1 : 0)}% err` : `${r}/s`;
}
