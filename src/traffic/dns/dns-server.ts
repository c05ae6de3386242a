// The GSLB DNS server: moves DNS messages between sockets and answerMessage() (gslb-answer.ts),
// over UDP and TCP on the same port. All decisions are made there; this file is only I/O, metrics
// and lifecycle, kept lean because it runs once per query.
import { DnsJunkLimiter, truncatedReply } from './dns-junk-limit.ts';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { Counter, Histogram, type Registry } from 'prom-client';
import { MeridianError, errorMessage } from '../../kube/errors.ts';
import { createLogger, type Logger } from '../../logging/logger.ts';
import { EMPTY_GEO_TABLE, type GeoTable } from '../routing/geo-table.ts';
import {
  AnswerCache,
  validateZoneConfig,
  type AnswerContext,
  type DnsZoneConfig,
  type Rcode,
  type Transport,
  type WireAnswer,
} from './gslb-answer.ts';
import type { RoutingTable } from '../routing/routing.ts';
import { BalancerCounters } from '../routing/select.ts';

export interface GslbDnsServerOptions {
  /** IP address to listen on ('0.0.0.0', '::' for both families, '127.0.0.1', ...). */
  readonly host: string;
  /** UDP and TCP port; 0 picks a free port (the same for both). */
  readonly port: number;
  readonly table: RoutingTable;
  readonly zone: DnsZoneConfig;
  /** The current geo table (called per query, so a reloaded table takes effect at once). */
  readonly geo?: () => GeoTable;
  /** Rotation state; share it with nothing else that answers for the same hosts. */
  readonly counters?: BalancerCounters;
  readonly logger?: Logger;
  /**
   * Registers `meridian_gslb_dns_queries_total` and `meridian_gslb_dns_answer_duration_seconds`
   * (once per registry: a second server on the same registry would clash).
   */
  readonly registry?: Registry;
  /** A TCP connection with no query for this long is closed (default 10 s; RFC 7766 §6.2.3). */
  readonly tcpIdleTimeoutMs?: number;
  /** Concurrent TCP connections (default 1000); more are closed as soon as they are accepted. */
  readonly maxTcpConnections?: number;
  /**
   * In a DNS worker process (node:cluster worker): bind through the hub, so every worker receives
   * from the same UDP socket and TCP listener (dns-workers.ts).
   */
  readonly sharedSockets?: boolean;
}

export interface GslbDnsAddress {
  readonly host: string;
  readonly udpPort: number;
  readonly tcpPort: number;
}

/** The DNS metrics (also registered by the hub for its DNS worker processes, dns-workers.ts). */
export const DNS_METRICS = {
  queries: {
    name: 'meridian_gslb_dns_queries_total',
    help: 'GSLB DNS queries answered, by zone, response code and transport',
  },
  duration: {
    name: 'meridian_gslb_dns_answer_duration_seconds',
    help: 'Time to decide and encode one GSLB DNS answer (excluding socket I/O)',
  },
  junkDropped: {
    name: 'meridian_gslb_dns_junk_limited_total',
    help: 'UDP packets dropped unread (or answered TC=1) from sources over their junk budget',
  },
} as const;

/** Unanswered bytes queued on one TCP connection before we stop reading from it. */
const MAX_TCP_PENDING = 256 * 1024;
const NO_ZONE = '(none)';
const TRANSPORTS: readonly Transport[] = ['udp', 'tcp'];

/**
 * Replies go to the address the query came from, always an IP literal: answering the lookup at
 * once saves a dns.lookup call and a deferred tick per reply.
 */
const literalLookup = (
  address: string,
  family: unknown, // dgram passes 4 or 6, matching the socket type
  callback: (err: Error | null, address: string, family: number) => void,
): void => callback(null, address, typeof family === 'number' ? family : isIP(address));

/** The DNS listen address must be an IP literal and a port (also checked for worker processes). */
export function validateDnsListen(host: string, port: number): void {
  if (isIP(host) === 0)
    throw new MeridianError('InvalidDnsListen', `dns: host ${JSON.stringify(host)} is not an IP address`);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new MeridianError('InvalidDnsListen', `dns: port ${port} is not a port number`);
}

/** Serves the GSLB zones over UDP and TCP. */
export class GslbDnsServer {
  private readonly log: Logger;
  private readonly zone: DnsZoneConfig;
  private readonly counters: BalancerCounters;
  private readonly geo: () => GeoTable;
  private udp?: UdpSocket;
  private tcp?: Server;
  private readonly connections = new Set<Socket>();
  /** Query counts since the last scrape, zone → rcode → [udp, tcp]: no label hashing per query. */
  private readonly tally = new Map<string, Map<Rcode, number[]>>();
  private readonly latency?: Histogram;
  private readonly cache = new AnswerCache();
  private readonly junk = new DnsJunkLimiter();
  private readonly junkDropped?: Counter;

  constructor(private readonly options: GslbDnsServerOptions) {
    validateDnsListen(options.host, options.port);
    this.zone = validateZoneConfig(options.zone);
    this.log = options.logger ?? createLogger('gslb-dns');
    this.counters = options.counters ?? new BalancerCounters();
    this.geo = options.geo ?? (() => EMPTY_GEO_TABLE);
    if (options.registry) {
      const tally = this.tally;
      new Counter({
        ...DNS_METRICS.queries,
        labelNames: ['zone', 'rcode', 'transport'],
        registers: [options.registry],
        collect() {
          for (const [zone, byRcode] of tally)
            for (const [rcode, counts] of byRcode)
              counts.forEach((n, i) => {
                if (n > 0) this.inc({ zone, rcode, transport: TRANSPORTS[i]! }, n);
                counts[i] = 0;
              });
        },
      });
      this.junkDropped = new Counter({ ...DNS_METRICS.junkDropped, registers: [options.registry] });
      this.latency = new Histogram({
        ...DNS_METRICS.duration,
        buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005],
        registers: [options.registry],
      });
    }
  }

  /** Binds UDP and TCP on the same port (retrying when port 0 lands on a port taken for TCP). */
  async start(): Promise<GslbDnsAddress> {
    if (this.udp) throw new Error('GslbDnsServer already started');
    const { host, port } = this.options;
    for (let attempt = 1; ; attempt++) {
      const udp = await this.bindUdp(host, port);
      const udpPort = udp.address().port;
      try {
        this.tcp = await this.listenTcp(host, udpPort);
        this.udp = udp;
        this.log.info({ host, port: udpPort, zones: this.zone.zones }, 'GSLB DNS listening (UDP and TCP)');
        return { host, udpPort, tcpPort: udpPort };
      } catch (e) {
        await new Promise<void>((resolve) => udp.close(() => resolve()));
        const inUse = (e as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (port !== 0 || !inUse || attempt >= 20) throw e;
      }
    }
  }

  /** Closes every socket, including open TCP connections. */
  async stop(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    await Promise.all([
      udp && new Promise<void>((resolve) => udp.close(() => resolve())),
      tcp && new Promise<void>((resolve) => tcp.close(() => resolve())),
    ]);
  }

  private bindUdp(host: string, port: number): Promise<UdpSocket> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({
        type: isIP(host) === 6 ? 'udp6' : 'udp4',
        lookup: literalLookup,
        // Room for bursts while the event loop is busy (the kernel caps it at net.core.rmem_max).
        recvBufferSize: 4 * 1024 * 1024,
      });
      const onListenError = (e: Error): void => reject(e);
      socket.once('error', onListenError);
      socket.bind({ port, address: host, exclusive: !this.options.sharedSockets }, () => {
        socket.off('error', onListenError);
        // Send errors (an ICMP unreachable resolver, a full buffer) concern one reply: log, go on.
        socket.on('error', (e) => this.log.warn({ err: errorMessage(e) }, 'GSLB DNS UDP socket error'));
        socket.on('message', (msg, rinfo) => this.onUdp(socket, msg, rinfo));
        resolve(socket);
      });
    });
  }

  private listenTcp(host: string, port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.onTcp(socket));
      server.maxConnections = this.options.maxTcpConnections ?? 1000;
      server.once('error', reject);
      server.listen({ host, port, exclusive: !this.options.sharedSockets }, () => {
        server.off('error', reject);
        server.on('error', (e) => this.log.warn({ err: errorMessage(e) }, 'GSLB DNS TCP server error'));
        resolve(server);
      });
    });
  }

  private onUdp(socket: UdpSocket, msg: Buffer, rinfo: RemoteInfo): void {
    const verdict = this.junk.admit(rinfo.address);
    if (verdict !== 'answer') {
      this.junkDropped?.inc();
      const tc = verdict === 'truncate' ? truncatedReply(msg) : undefined;
      if (tc) socket.send(tc, rinfo.port, rinfo.address);
      return;
    }
    const answer = this.answer(msg, rinfo.address, 'udp');
    if (!answer || answer.rcode === 'FORMERR') this.junk.junk(rinfo.address);
    if (answer) socket.send(answer.message, rinfo.port, rinfo.address);
  }

  private onTcp(socket: Socket): void {
    this.connections.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.options.tcpIdleTimeoutMs ?? 10_000, () => socket.destroy());
    socket.on('error', () => socket.destroy()); // resets are the client's business
    socket.on('close', () => this.connections.delete(socket));
    const peer = socket.remoteAddress;
    let pending: Buffer | undefined;
    socket.on('data', (chunk: Buffer) => {
      // Messages are framed by a 2-byte length (RFC 1035 §4.2.2), so at most one partial message
      // (< 64 KiB) is ever buffered; several may arrive pipelined in one chunk.
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      const out: Buffer[] = [];
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const answer = peer === undefined ? undefined : this.answer(buf.subarray(2, 2 + len), peer, 'tcp');
        if (answer) {
          const prefix = Buffer.allocUnsafe(2);
          prefix.writeUInt16BE(answer.message.length, 0);
          out.push(prefix, answer.message);
        }
        buf = buf.subarray(2 + len);
      }
      pending = buf.length > 0 ? Buffer.from(buf) : undefined;
      if (out.length > 0) socket.write(Buffer.concat(out));
      // A client that sends faster than it reads does not get to grow our memory.
      if (socket.writableLength > MAX_TCP_PENDING) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    });
  }

  private answer(msg: Buffer, peer: string, transport: Transport): WireAnswer | undefined {
    const t0 = this.latency ? performance.now() : 0;
    const ctx: AnswerContext = {
      table: this.options.table,
      zone: this.zone,
      geo: this.geo(),
      counters: this.counters,
      resolverAddress: peer,
      transport,
    };
    let answer: WireAnswer | undefined;
    try {
      answer = this.cache.answer(msg, ctx);
    } catch (e) {
      // answerMessage() never throws; this guards the hub against a bug anywhere else on the path
      // (a throw in a socket handler would end the process). The resolver will retry.
      this.log.error({ err: errorMessage(e), transport, peer }, 'GSLB DNS failed to answer a query');
      return undefined;
    }
    if (answer) this.count(answer, transport);
    this.latency?.observe((performance.now() - t0) / 1000);
    return answer;
  }

  private count(answer: WireAnswer, transport: Transport): void {
    if (!this.options.registry) return;
    const zone = answer.zone ?? NO_ZONE;
    let byRcode = this.tally.get(zone);
    if (!byRcode) this.tally.set(zone, (byRcode = new Map()));
    let counts = byRcode.get(answer.rcode);
    if (!counts) byRcode.set(answer.rcode, (counts = [0, 0]));
    const i = transport === 'udp' ? 0 : 1;
    counts[i] = (counts[i] ?? 0) + 1;
  }
}
