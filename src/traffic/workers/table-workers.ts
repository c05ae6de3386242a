// What the DNS and edge worker pools share on the hub side (dns-workers.ts, edge-workers.ts): a
// WorkerPool whose state is the hub's routing table, pushed to every worker on each change, on
// ports chosen before the first worker binds them (a restarted worker must get the same ones).
import type { Registry } from 'prom-client';
import type { GeoTable } from '../routing/geo-table.ts';
import type { SwappableRoutingTable } from '../routing/routing.ts';
import { encodeTable, type TableWire } from './table-wire.ts';
import { addressInUse, WorkerPool, type SummedMetric, type WorkerPoolOptions } from './worker-pool.ts';

/** The liveness and restart settings of a pool, as each kind of worker takes them. */
export type WorkerTimings = Pick<
  WorkerPoolOptions<unknown, unknown>,
  'restartDelayMs' | 'heartbeatIntervalMs' | 'heartbeatTimeoutMs'
>;

export interface TableWorkersOptions<Start> extends Omit<WorkerPoolOptions<Start, TableWire>, 'state'> {
  /** The hub's table; every set() is copied to the workers. */
  readonly table: SwappableRoutingTable;
  readonly geo: () => GeoTable;
  /** Whether the workers get the routes' certificates and keys (only those that terminate TLS). */
  readonly withTls: boolean;
  /** The workers' metrics, summed into `registry`; the first counts what a worker served. */
  readonly metrics: readonly [SummedMetric, ...SummedMetric[]];
  readonly registry?: Registry;
}

export class TableWorkers<Start> {
  private readonly pool: WorkerPool<Start, TableWire>;
  private unsubscribe?: () => void;

  constructor(private readonly options: TableWorkersOptions<Start>) {
    const { table, geo, withTls } = options;
    this.pool = new WorkerPool({
      ...options,
      state: () => encodeTable(table.routes(), geo(), { withTls }),
    });
  }

  /**
   * Chooses the ports (`pick`) and starts every worker; when the first cannot bind a port that was
   * picked free (`picked`: not one the user named), picks again, up to 20 times.
   */
  protected async startWorkers(pick: () => Promise<void>, picked: boolean): Promise<void> {
    if (this.unsubscribe) throw new Error(`${this.options.label}s already started`);
    this.unsubscribe = this.options.table.subscribe(() => this.pool.broadcast());
    let attempts = 0;
    try {
      await pick();
      await this.pool.start(async (e) => {
        if (!picked || !addressInUse(e) || ++attempts >= 20) return false;
        await pick();
        return true;
      });
    } catch (e) {
      this.unsubscribe();
      throw e;
    }
    if (this.options.registry) this.pool.registerMetrics(this.options.registry, this.options.metrics);
  }

  /** Stops every worker (they finish what is in flight), killing any that does not exit in time. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.pool.stop();
  }

  /** Resolves once every running worker serves from the hub's current table. */
  synced(): Promise<void> {
    return this.pool.synced();
  }

  /** PIDs of the running workers (tests, benchmarks). */
  pids(): number[] {
    return this.pool.pids();
  }

  /** What each running worker has served, by the first metric (tests: proves they all serve). */
  answeredPerWorker(): Promise<number[]> {
    return this.pool.perWorker(this.options.metrics[0].name);
  }

  /** Tests only: makes worker `index` busy-loop for `ms`, as if its event loop were stuck. */
  block(index: number, ms: number): void {
    this.pool.block(index, ms);
  }
}
