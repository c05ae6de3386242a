// The demo's shop traffic: a steady, bounded stream of shopper requests through the edge gateway
// (list items, place orders, read orders back), so the console, the metrics and the traces have
// something real to show and scenarios have something to move. Bounded in rate, in requests in
// flight and in time; it stops by itself at `until`.
import { ShopClient, type ShopResult } from './shop-client.ts';
import { emptyStats, record, writeTrafficStats, type TrafficStats } from './traffic-stats.ts';

const ITEMS = ['espresso', 'cappuccino', 'croissant', 'bagel'] as const;
/** Requests in flight at most; a tick finding them all busy skips (and says so in `skipped`). */
const MAX_IN_FLIGHT = 32;

export interface TrafficOptions {
  /** Where requests go: the edge gateway (`http://127.0.0.1:8000`) or one ingress address. */
  readonly target: URL;
  /** The shop's published host name (`shop.meridian.local`). */
  readonly host: string;
  readonly rps: number;
  readonly durationMs: number;
  /** Where the stats file goes (the fleet directory); none: not written. */
  readonly fleetDir?: string;
  readonly onResult?: (r: ShopResult) => void;
}

/** The n-th request of the mix: half list items, three in ten place an order, two read one back. */
export function nthRequest(
  n: number,
  orders: readonly number[],
): { method: 'GET' | 'POST'; path: string; body?: unknown } {
  const slot = n % 10;
  if (slot >= 8 && orders.length > 0) return { method: 'GET', path: `/orders/${orders[n % orders.length]}` };
  if (slot >= 5 && slot < 8)
    return {
      method: 'POST',
      path: '/orders',
      body: { item: ITEMS[n % ITEMS.length], quantity: 1 + (n % 3) },
    };
  return { method: 'GET', path: '/items' };
}

export class TrafficGenerator {
  private stats: TrafficStats;
  private readonly client: ShopClient;
  private timer: NodeJS.Timeout | undefined;
  private flush: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private n = 0;
  private finished: (() => void) | undefined;
  skipped = 0;

  constructor(private readonly o: TrafficOptions) {
    if (!(o.rps > 0 && o.rps <= 200)) throw new Error(`--rps ${o.rps}: expected more than 0 and at most 200`);
    this.client = new ShopClient(o.target, o.host);
    const now = Date.now();
    this.stats = emptyStats(process.pid, o.target.href, o.rps, now, now + o.durationMs);
  }

  get current(): TrafficStats {
    return this.stats;
  }

  /** Resolves when the duration is over or {@link stop} was called (after in-flight requests end). */
  run(): Promise<void> {
    const done = new Promise<void>((resolve) => (this.finished = resolve));
    this.timer = setInterval(() => this.tick(), 1000 / this.o.rps);
    if (this.o.fleetDir) {
      const dir = this.o.fleetDir;
      this.flush = setInterval(() => writeTrafficStats(dir, this.stats), 1000);
    }
    return done;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const end = async (): Promise<void> => {
      while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 50));
      if (this.flush) clearInterval(this.flush);
      if (this.o.fleetDir) writeTrafficStats(this.o.fleetDir, this.stats);
      this.client.close();
      this.finished?.();
    };
    void end();
  }

  private tick(): void {
    if (Date.now() >= this.stats.until) {
      this.stop();
      return;
    }
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.skipped++;
      return;
    }
    const req = nthRequest(this.n++, this.stats.orders);
    this.inFlight++;
    void this.client.send(req.method, req.path, req.body).then((r) => {
      this.inFlight--;
      this.stats = record(this.stats, r);
      this.o.onResult?.(r);
    });
  }
}
