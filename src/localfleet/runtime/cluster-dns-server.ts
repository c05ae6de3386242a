// A member's cluster DNS on loopback, over UDP and TCP on the same address and port (as CoreDNS
// serves both): answers `*.svc.cluster.local` and `*.svc.clusterset.local` from the member's
// current records (cluster-dns-answer.ts). A UDP answer that does not fit the client's buffer (512
// bytes, or its EDNS size) is cut to the records that fit and marked truncated (TC), and the
// resolver asks again over TCP, which carries every record. Programs reach it through the preload
// module (cluster-dns-preload.mjs); `dig @<address> -p <port> [+tcp]` works too.
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { decode, encode, encodingLength, type Answer, type OptAnswer, type Packet } from 'dns-packet';
import { assertLoopbackAllowed } from '../../dial/dial-guard.ts';
import { CLUSTER_DNS_TTL, clusterDnsAnswer, type DnsRecords } from './cluster-dns-answer.ts';

const QR_AA = 0x8400;
const TC = 0x0200;
const RD = 0x0100;
const RCODE = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, REFUSED: 5 } as const;
/** A UDP answer's limit without EDNS (RFC 1035). */
export const UDP_PLAIN_MAX = 512;
/** The largest UDP answer sent whatever a client's EDNS buffer says (the DNS flag day's 1232). */
export const UDP_EDNS_MAX = 1232;
/** A TCP message's limit: its two-byte length prefix. */
export const TCP_MAX = 65_535;
/** Open TCP connections per server: its input budget. */
const TCP_MAX_CONNECTIONS = 64;
/** A TCP connection with no complete query for this long is closed (RFC 7766 suggests seconds). */
const TCP_IDLE_MS = 10_000;

/** The transport a query came over: it sets how large the answer may be. */
export type DnsTransport = 'udp' | 'tcp';

/**
 * The response to one DNS message, or undefined when nothing must be sent. Pure. Over UDP, an
 * answer larger than the client can take keeps the records that fit and sets TC.
 */
export function clusterDnsResponse(
  message: Buffer,
  records: DnsRecords,
  transport: DnsTransport = 'udp',
): Buffer | undefined {
  if (message.length < 12) return undefined;
  let query: Packet;
  try {
    query = decode(message);
  } catch {
    return encode({
      id: message.readUInt16BE(0),
      type: 'response',
      flags: QR_AA | RCODE.FORMERR,
      questions: [],
    });
  }
  if (query.type === 'response') return undefined;
  const q = query.questions?.[0];
  const rd = (query.flags ?? 0) & RD;
  if (!q || query.questions!.length !== 1) {
    return encode({ id: query.id, type: 'response', flags: QR_AA | rd | RCODE.FORMERR, questions: [] });
  }
  // EDNS: answer with an OPT record of our own when asked with one (RFC 6891 §7).
  const opt = query.additionals?.find((a): a is OptAnswer => a.type === 'OPT');
  const additionals: Answer[] = opt
    ? [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: UDP_EDNS_MAX,
          extendedRcode: 0,
          ednsVersion: 0,
          flags: 0,
          flag_do: false,
          options: [],
        },
      ]
    : [];
  const max =
    transport === 'tcp'
      ? TCP_MAX
      : opt
        ? Math.max(UDP_PLAIN_MAX, Math.min(opt.udpPayloadSize, UDP_EDNS_MAX))
        : UDP_PLAIN_MAX;
  const a = clusterDnsAnswer(q.name, q.type, records);
  const all: Answer[] =
    a.rcode === 'NOERROR'
      ? a.addresses.map((data) => ({ type: 'A', name: q.name, class: 'IN', ttl: CLUSTER_DNS_TTL, data }))
      : [];
  const packet = (answers: Answer[], flags: number): Packet => ({
    id: query.id,
    type: 'response',
    flags: QR_AA | rd | RCODE[a.rcode] | flags,
    questions: [q],
    answers,
    additionals,
  });
  // Every record has the same size (one name, an IPv4 address): how many fit is arithmetic.
  const base = encodingLength(packet([], 0));
  const each = all.length ? encodingLength(packet(all.slice(0, 1), 0)) - base : 0;
  const fit = each ? Math.max(0, Math.floor((max - base) / each)) : all.length;
  return fit >= all.length ? encode(packet(all, 0)) : encode(packet(all.slice(0, fit), TC));
}

export class ClusterDnsServer {
  private socket: Socket | undefined;
  private tcp: Server | undefined;
  private readonly connections = new Set<TcpSocket>();

  constructor(
    readonly address: string,
    readonly port: number,
    private readonly records: () => DnsRecords,
  ) {
    assertLoopbackAllowed(address);
  }

  private answer(message: Buffer, transport: DnsTransport): Buffer | undefined {
    try {
      return clusterDnsResponse(message, this.records(), transport);
    } catch {
      return undefined; // a bug answers nothing; the resolver times out and retries
    }
  }

  async start(): Promise<void> {
    const socket = createSocket({ type: 'udp4' });
    socket.on('message', (msg, peer) => {
      const out = this.answer(msg, 'udp');
      if (out) socket.send(out, peer.port, peer.address);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: this.address, port: this.port, exclusive: true }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => undefined); // send errors to a vanished peer are not ours to handle
    this.socket = socket;
    const tcp = createServer((c) => this.serveTcp(c));
    tcp.maxConnections = TCP_MAX_CONNECTIONS;
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host: this.address, port: this.port, exclusive: true }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.tcp = tcp;
  }

  /** One TCP connection: length-prefixed queries, answered in order, as many as the client sends. */
  private serveTcp(c: TcpSocket): void {
    this.connections.add(c);
    c.setNoDelay(true);
    c.setTimeout(TCP_IDLE_MS, () => c.destroy());
    let pending: Buffer = Buffer.alloc(0);
    c.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const out = this.answer(pending.subarray(2, 2 + len), 'tcp');
        pending = pending.subarray(2 + len);
        if (!out) {
          c.destroy(); // a message that gets no answer (a response, a runt) ends the stream
          return;
        }
        const head = Buffer.allocUnsafe(2);
        head.writeUInt16BE(out.length, 0);
        c.write(Buffer.concat([head, out]));
      }
    });
    c.on('error', () => undefined);
    c.on('close', () => this.connections.delete(c));
  }

  async stop(): Promise<void> {
    const s = this.socket;
    const t = this.tcp;
    this.socket = undefined;
    this.tcp = undefined;
    for (const c of this.connections) c.destroy();
    await Promise.all([
      s ? new Promise<void>((r) => s.close(() => r())) : undefined,
      t ? new Promise<void>((r) => t.close(() => r())) : undefined,
    ]);
  }
}
