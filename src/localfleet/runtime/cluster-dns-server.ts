// A member's cluster DNS on loopback (UDP): answers `*.svc.cluster.local` and
// `*.svc.clusterset.local` from the member's current records (cluster-dns-answer.ts). Programs
// reach it through the preload module (cluster-dns-preload.mjs); `dig @<address> -p <port>` works too.
import { createSocket, type Socket } from 'node:dgram';
import { decode, encode, type Answer, type Packet } from 'dns-packet';
import { assertLoopbackAllowed } from '../../kube/dial-guard.ts';
import { CLUSTER_DNS_TTL, clusterDnsAnswer, type DnsRecords } from './cluster-dns-answer.ts';

const QR_AA = 0x8400;
const RD = 0x0100;
const RCODE = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, REFUSED: 5 } as const;
/** Answers kept within a 512-byte UDP response (12 + question + 16 per A record). */
const MAX_ANSWERS = 24;

/** The response to one DNS message, or undefined when nothing must be sent. Pure. */
export function clusterDnsResponse(message: Buffer, records: DnsRecords): Buffer | undefined {
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
  const a = clusterDnsAnswer(q.name, q.type, records);
  const answers: Answer[] =
    a.rcode === 'NOERROR'
      ? a.addresses
          .slice(0, MAX_ANSWERS)
          .map((data) => ({ type: 'A', name: q.name, class: 'IN', ttl: CLUSTER_DNS_TTL, data }))
      : [];
  return encode({
    id: query.id,
    type: 'response',
    flags: QR_AA | rd | RCODE[a.rcode],
    questions: [q],
    answers,
  });
}

export class ClusterDnsServer {
  private socket: Socket | undefined;

  constructor(
    readonly address: string,
    readonly port: number,
    private readonly records: () => DnsRecords,
  ) {
    assertLoopbackAllowed(address);
  }

  async start(): Promise<void> {
    const socket = createSocket({ type: 'udp4' });
    socket.on('message', (msg, peer) => {
      let out: Buffer | undefined;
      try {
        out = clusterDnsResponse(msg, this.records());
      } catch {
        out = undefined; // a bug answers nothing; the resolver times out and retries
      }
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
  }

  async stop(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
