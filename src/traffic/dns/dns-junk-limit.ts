// Per-source budget for junk DNS over UDP (packets answered FORMERR or not answerable at all): a
// source over `perSecond` junk packets a second (a one-second burst) has its UDP packets dropped
// unread until its budget refills, except every `slip`-th, answered with an empty truncated
// reply (TC=1) so a real resolver behind that address retries over TCP, as response rate limiting
// (RRL) in BIND and Knot does; TCP is not limited here (its connections are capped). Sources are
// kept in LRU order, at most `maxSources`. Pure apart from the clock it is given.

interface Budget {
  tokens: number;
  at: number;
  dropped: number;
}

export interface JunkLimitSettings {
  readonly perSecond: number;
  /** Every slip-th dropped packet is answered TC=1 (0: never). */
  readonly slip: number;
  readonly maxSources: number;
}

export const JUNK_LIMIT_DEFAULTS: JunkLimitSettings = { perSecond: 100, slip: 2, maxSources: 10_000 };

export type JunkVerdict = 'answer' | 'drop' | 'truncate';

export class DnsJunkLimiter {
  private readonly sources = new Map<string, Budget>();

  constructor(
    private readonly settings: JunkLimitSettings = JUNK_LIMIT_DEFAULTS,
    private readonly now: () => number = Date.now,
  ) {}

  private budget(source: string, create: boolean): Budget | undefined {
    const t = this.now();
    let b = this.sources.get(source);
    if (b) {
      this.sources.delete(source);
      b.tokens = Math.min(this.settings.perSecond, b.tokens + ((t - b.at) / 1000) * this.settings.perSecond);
      b.at = t;
    } else if (create) {
      b = { tokens: this.settings.perSecond, at: t, dropped: 0 };
      if (this.sources.size >= this.settings.maxSources) {
        const oldest = this.sources.keys().next();
        if (!oldest.done) this.sources.delete(oldest.value);
      }
    } else return undefined;
    this.sources.set(source, b);
    return b;
  }

  /** What to do with a UDP packet from `source` before reading it. */
  admit(source: string): JunkVerdict {
    const b = this.budget(source, false);
    if (!b || b.tokens >= 1) return 'answer';
    b.dropped++;
    return this.settings.slip > 0 && b.dropped % this.settings.slip === 0 ? 'truncate' : 'drop';
  }

  /** Counts one junk packet from `source` against its budget. */
  junk(source: string): void {
    this.budget(source, true)!.tokens -= 1;
  }

  get size(): number {
    return this.sources.size;
  }
}

/**
 * An empty truncated response to `msg` built from its header alone (nothing decoded): the id and
 * the RD bit kept, QR and TC set, every count zero. Undefined when `msg` has no header.
 */
export function truncatedReply(msg: Buffer): Buffer | undefined {
  if (msg.length < 12 || (msg[2]! & 0x80) !== 0) return undefined; // no header, or a response
  const out = Buffer.alloc(12);
  msg.copy(out, 0, 0, 2);
  out[2] = 0x80 | 0x02 | (msg[2]! & 0x01) | (msg[2]! & 0x78); // QR, TC, RD; opcode kept
  return out;
}
