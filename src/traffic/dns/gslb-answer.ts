// The GSLB DNS decision: one query in, one response out, no I/O. The server (dns-server.ts) only
// moves bytes; everything a resolver can observe is decided here, so it is all unit-tested.
//
// Choices a resolver operator may want to know:
// - Authoritative only: names at or under a configured zone get AA answers; anything else REFUSED.
// - Only class IN is served: other classes get REFUSED (we are authoritative for nothing there),
//   like out-of-zone names. Opcodes other than QUERY get NOTIMP; AXFR/IXFR get REFUSED.
// - ANY gets every record the name has (at most SOA, NS, A and AAAA: a handful, so the RFC 8482
//   reasons for minimal answers do not apply).
// - When no cluster of a host is in rotation, the answer names every cluster (see select.ts).
// - Answer owner names are the lower-case canonical name; the question is echoed exactly as asked
//   (0x20 case randomisation survives). dns-packet does not compress names, so answers are larger
//   than a compressing server's and reach the UDP limit sooner (TC, then the resolver uses TCP).
import ipaddr from 'ipaddr.js';
import { isIPv4, isIPv6 } from 'node:net';
import { decode, encode, type Answer, type OptAnswer, type Packet, type Question } from 'dns-packet';
import { MeridianError } from '../../kube/errors.ts';
import type { GeoTable } from '../routing/geo-table.ts';
import type { ClusterTarget, HostRoute, RoutingTable } from '../routing/routing.ts';
import { dnsAnswerClusters, type BalancerCounters, type Ranking } from '../routing/select.ts';

/** One name server of the zones (NS record), with glue addresses when it lives inside a zone. */
export interface DnsNameserver {
  readonly name: string;
  readonly addresses?: readonly string[];
}

/** SOA fields (RFC 1035 §3.3.13); `minimum` is the negative-caching TTL (RFC 2308). */
export interface DnsSoa {
  readonly mname: string;
  readonly rname: string;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly minimum: number;
}

/** The zones the GSLB DNS is authoritative for; every zone gets the same SOA and NS set. */
export interface DnsZoneConfig {
  readonly zones: readonly string[];
  readonly nameservers: readonly DnsNameserver[];
  readonly soa: DnsSoa;
  /** TTL of the SOA, NS and name-server address records (default 3600). */
  readonly ttlSeconds?: number;
}

export type Transport = 'udp' | 'tcp';

export interface AnswerContext {
  readonly table: RoutingTable;
  readonly zone: DnsZoneConfig;
  readonly geo: GeoTable;
  readonly counters: BalancerCounters;
  /** The peer that sent the query (the resolver); Geo uses it when the query carries no ECS. */
  readonly resolverAddress?: string;
  readonly transport: Transport;
}

export type Rcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED' | 'BADVERS';

/** A response ready to send, with what the metrics need to know about it. */
export interface WireAnswer {
  readonly message: Buffer;
  readonly rcode: Rcode;
  /** The zone the question fell in, or undefined (REFUSED, FORMERR, ...). */
  readonly zone?: string;
}

const RCODES: Readonly<Record<Rcode, number>> = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
};
const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const CD = 0x0010;
const ECS_CODE = 8;
/** Our EDNS buffer size, and the cap on the client's: no IP fragmentation (DNS flag day 2020). */
export const EDNS_UDP_SIZE = 1232;
const DEFAULT_TTL = 3600;

/** Lower case, no trailing dot. */
const canonical = (name: string): string => {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
};

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

function checkName(name: string, field: string): string {
  const n = canonical(name.trim());
  if (n === '' || n.length > 253 || !n.split('.').every((l) => LABEL.test(l)))
    throw new MeridianError('InvalidDnsZone', `dns: ${field}: ${JSON.stringify(name)} is not a DNS name`);
  return n;
}

/** Checks and normalises a zone config; errors name the field. */
export function validateZoneConfig(config: DnsZoneConfig): DnsZoneConfig {
  if (config.zones.length === 0) throw new MeridianError('InvalidDnsZone', 'dns: zones: at least one zone');
  if (config.nameservers.length === 0)
    throw new MeridianError('InvalidDnsZone', 'dns: nameservers: at least one name server');
  const u32 = (v: number, field: string): number => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
      throw new MeridianError('InvalidDnsZone', `dns: ${field}: ${v} is not an unsigned 32-bit integer`);
    return v;
  };
  const { soa } = config;
  return {
    zones: config.zones.map((z, i) => checkName(z, `zones[${i}]`)),
    nameservers: config.nameservers.map((ns, i) => ({
      name: checkName(ns.name, `nameservers[${i}].name`),
      addresses: (ns.addresses ?? []).map((a, j) => {
        if (!isIPv4(a) && !isIPv6(a))
          throw new MeridianError(
            'InvalidDnsZone',
            `dns: nameservers[${i}].addresses[${j}]: ${a} is not an IP`,
          );
        return a;
      }),
    })),
    soa: {
      mname: checkName(soa.mname, 'soa.mname'),
      rname: checkName(soa.rname, 'soa.rname'),
      serial: u32(soa.serial, 'soa.serial'),
      refresh: u32(soa.refresh, 'soa.refresh'),
      retry: u32(soa.retry, 'soa.retry'),
      expire: u32(soa.expire, 'soa.expire'),
      minimum: u32(soa.minimum, 'soa.minimum'),
    },
    ttlSeconds: u32(config.ttlSeconds ?? DEFAULT_TTL, 'ttlSeconds'),
  };
}

/**
 * A zone config with sensible defaults: name server `ns1.<first zone>` (with `nameserverAddresses`
 * as glue), `hostmaster.<first zone>` as contact, serial = Unix time at start-up (so it only grows
 * across restarts), negative answers cached 30 s (hosts appear and disappear with GlobalIngresses).
 */
export function defaultZoneConfig(
  zones: readonly string[],
  options: { readonly nameserverAddresses?: readonly string[]; readonly now?: number } = {},
): DnsZoneConfig {
  const first = zones[0] ?? '';
  const ns = `ns1.${canonical(first)}`;
  return validateZoneConfig({
    zones,
    nameservers: [{ name: ns, addresses: options.nameserverAddresses ?? [] }],
    soa: {
      mname: ns,
      rname: `hostmaster.${canonical(first)}`,
      serial: Math.floor((options.now ?? Date.now()) / 1000) >>> 0,
      refresh: 3600,
      retry: 600,
      expire: 604800,
      minimum: 30,
    },
    ttlSeconds: DEFAULT_TTL,
  });
}

interface Compiled {
  /** Longest first, so the first match is the longest. */
  readonly zones: readonly string[];
  readonly config: DnsZoneConfig;
  readonly ttl: number;
  readonly negativeTtl: number;
  readonly nsAddresses: ReadonlyMap<string, Family>;
}

interface Family {
  readonly v4: readonly string[];
  readonly v6: readonly string[];
}

const compiledZones = new WeakMap<DnsZoneConfig, Compiled>();
const clusterFamilies = new WeakMap<ClusterTarget, Family>();

const byFamily = (addresses: readonly string[]): Family => ({
  v4: addresses.filter((a) => isIPv4(a)),
  v6: addresses.filter((a) => isIPv6(a)),
});

// Both memos key on immutable objects (configs, and targets the controller replaces on change), so
// they never go stale and keep the per-query cost to a map lookup.
function compile(config: DnsZoneConfig): Compiled {
  let c = compiledZones.get(config);
  if (!c) {
    const v = validateZoneConfig(config);
    const ttl = v.ttlSeconds ?? DEFAULT_TTL;
    c = {
      zones: [...v.zones].sort((a, b) => b.length - a.length),
      config: v,
      ttl,
      negativeTtl: Math.min(ttl, v.soa.minimum),
      nsAddresses: new Map(v.nameservers.map((ns) => [ns.name, byFamily(ns.addresses ?? [])])),
    };
    compiledZones.set(config, c);
  }
  return c;
}

function familiesOf(c: ClusterTarget): Family {
  let f = clusterFamilies.get(c);
  if (!f) {
    f = byFamily(c.addresses);
    clusterFamilies.set(c, f);
  }
  return f;
}

const isUnder = (name: string, zone: string): boolean =>
  name === zone ||
  (name.length > zone.length && name.endsWith(zone) && name.charCodeAt(name.length - zone.length - 1) === 46);

/** The largest UDP response the client accepts: 512 without EDNS, else its size capped at 1232. */
export function udpPayloadLimit(query: Packet): number {
  const opt = query.additionals?.find((a): a is OptAnswer => a.type === 'OPT');
  if (!opt) return 512;
  return Math.max(512, Math.min(opt.udpPayloadSize, EDNS_UDP_SIZE));
}

/**
 * Encodes `response`; if it is larger than `maxSize`, sends header, question and OPT only with TC
 * set, so the resolver asks again over TCP (RFC 7766) instead of using a partial answer.
 */
export function fitToUdp(response: Packet, maxSize: number): Buffer {
  const full = encode(response);
  if (full.length <= maxSize) return full;
  return encode({
    ...response,
    flags: (response.flags ?? 0) | TC,
    answers: [],
    authorities: [],
    additionals: (response.additionals ?? []).filter((a) => a.type === 'OPT'),
  });
}

/** What the cache needs to know to reuse a response: set only when the response is a function of
 * the message bytes, the zone config, the route object and the cluster choice. */
interface Reuse {
  readonly name: string;
  readonly route: HostRoute | undefined;
  /** The cluster choice the response was built from (undefined: none was made). */
  readonly ranking?: Ranking;
  /** The ECS address the choice was made for (else the resolver's address was used). */
  readonly clientAddress?: string;
}

interface Decision {
  readonly packet: Packet;
  readonly rcode: Rcode;
  readonly zone?: string;
  readonly reuse?: Reuse;
}

/** The client subnet of an ECS option (RFC 7871), 'invalid' when malformed, undefined if absent. */
function clientSubnet(
  opt: OptAnswer | undefined,
): { address?: string; data: Buffer } | 'invalid' | undefined {
  const ecs = opt?.options.find((o) => o.code === ECS_CODE);
  if (!ecs?.data) return undefined;
  const data = ecs.data;
  if (data.length < 4) return 'invalid';
  const family = data.readUInt16BE(0);
  const source = data[2]!;
  const bits = family === 1 ? 32 : family === 2 ? 128 : 0;
  const addr = data.subarray(4);
  // RFC 7871 §6: SCOPE must be 0 in queries, ADDRESS exactly as long as SOURCE needs, bits beyond
  // SOURCE zero.
  if (bits === 0 || source > bits || data[3] !== 0 || addr.length !== Math.ceil(source / 8)) return 'invalid';
  if (source % 8 !== 0 && (addr[addr.length - 1]! & (0xff >> (source % 8))) !== 0) return 'invalid';
  if (source === 0) return { data }; // the client opted out: answer as if without ECS
  const bytes = new Array<number>(bits / 8).fill(0);
  addr.forEach((b, i) => (bytes[i] = b));
  return { address: ipaddr.fromByteArray(bytes).toString(), data };
}

function reply(
  query: Packet,
  rcode: Rcode,
  opt: OptAnswer | undefined,
  extra: {
    aa?: boolean;
    answers?: Answer[];
    authorities?: Answer[];
    additionals?: Answer[];
    ecs?: Buffer;
  } = {},
): Packet {
  const qflags = query.flags ?? 0;
  const code = RCODES[rcode];
  const additionals = extra.additionals ?? [];
  if (opt) {
    additionals.push({
      name: '.',
      type: 'OPT',
      udpPayloadSize: EDNS_UDP_SIZE,
      extendedRcode: code >> 4,
      ednsVersion: 0,
      flags: 0,
      flag_do: false,
      options: extra.ecs ? [{ code: ECS_CODE, ip: undefined, data: extra.ecs }] : [],
    });
  }
  return {
    id: query.id ?? 0,
    type: 'response',
    // Opcode echoed; RD and CD copied (RFC 1035 §4.1.1, RFC 6840 §5.9); RA never set.
    flags: (qflags & 0x7800) | (qflags & (RD | CD)) | (extra.aa ? AA : 0) | (code & 0xf),
    questions: query.questions ?? [],
    answers: extra.answers ?? [],
    authorities: extra.authorities ?? [],
    additionals,
  };
}

// Module-level helpers rather than closures in decide(): tsx keeps function names, which costs a
// defineProperty per closure created, i.e. per query.
const wants = (qtype: string, t: string): boolean => qtype === t || qtype === 'ANY';

function pushAddresses(
  out: Answer[],
  qtype: string,
  name: string,
  ttl: number,
  f: Family,
  skip?: Set<string>,
) {
  if (wants(qtype, 'A')) for (const a of f.v4) if (!skip?.has(a)) out.push({ name, type: 'A', ttl, data: a });
  if (wants(qtype, 'AAAA'))
    for (const a of f.v6) if (!skip?.has(a)) out.push({ name, type: 'AAAA', ttl, data: a });
}

const soaRecord = (zone: string, ttl: number, soa: DnsSoa): Answer => ({
  name: zone,
  type: 'SOA',
  ttl,
  data: soa,
});

/** `given`: a cluster choice already made for this query (by the cache), used instead of a new one. */
function decide(query: Packet, ctx: AnswerContext, given?: Ranking): Decision | undefined {
  const flags = query.flags ?? 0;
  if (query.type === 'response' || (flags & QR) !== 0) return undefined; // never answer answers
  let opt: OptAnswer | undefined;
  for (const a of query.additionals ?? []) {
    if (a.type !== 'OPT') continue;
    if (opt || a.name !== '.') return { packet: reply(query, 'FORMERR', undefined), rcode: 'FORMERR' };
    opt = a;
  }
  if (opt && opt.ednsVersion !== 0) return { packet: reply(query, 'BADVERS', opt), rcode: 'BADVERS' };
  if ((flags >> 11) & 0xf) return { packet: reply(query, 'NOTIMP', opt), rcode: 'NOTIMP' };
  const questions = query.questions ?? [];
  const q: Question | undefined = questions[0];
  if (!q || questions.length !== 1) return { packet: reply(query, 'FORMERR', opt), rcode: 'FORMERR' };
  const ecs = clientSubnet(opt);
  if (ecs === 'invalid') return { packet: reply(query, 'FORMERR', opt), rcode: 'FORMERR' };
  const c = compile(ctx.zone);
  const name = canonical(q.name);
  const qtype: string = q.type; // may be ANY or UNKNOWN_n, which the library's type omits
  const route = ctx.table.route(name);
  let zone: string | undefined;
  if ((q.class ?? 'IN') === 'IN') zone = c.zones.find((z) => isUnder(name, z));
  if (zone === undefined || qtype === 'AXFR' || qtype === 'IXFR') {
    const packet = reply(query, 'REFUSED', opt, { ecs: ecs?.data });
    return { packet, rcode: 'REFUSED', reuse: { name, route } };
  }

  const records: Answer[] = [];
  const glue: Answer[] = [];
  let exists = false;
  if (name === zone) {
    exists = true;
    if (wants(qtype, 'SOA')) records.push(soaRecord(zone, c.ttl, c.config.soa));
    if (wants(qtype, 'NS')) {
      for (const ns of c.config.nameservers) {
        records.push({ name, type: 'NS', ttl: c.ttl, data: ns.name });
        pushAddresses(glue, 'ANY', ns.name, c.ttl, c.nsAddresses.get(ns.name)!);
      }
    }
  }
  const nsFamily = c.nsAddresses.get(name);
  if (nsFamily) {
    exists = true;
    pushAddresses(records, qtype, name, c.ttl, nsFamily);
  }
  let ranking: Ranking | undefined;
  let geoScoped = false;
  // hostKey() strips what looks like a port; a DNS label may contain ':', so compare exactly.
  if (route && canonical(route.host) === name) {
    exists = true;
    if (wants(qtype, 'A') || wants(qtype, 'AAAA')) {
      const clientAddress = ecs?.address ?? ctx.resolverAddress;
      ranking = given ?? dnsAnswerClusters(route, { clientAddress, geo: ctx.geo, counters: ctx.counters });
      // Clusters may share an address (one ingress in front of two): an RRset has no duplicates.
      const seen = ranking.clusters.length > 1 ? new Set<string>() : undefined;
      for (const cluster of ranking.clusters) {
        pushAddresses(records, qtype, name, route.ttlSeconds, familiesOf(cluster), seen);
        if (seen) for (const a of cluster.addresses) seen.add(a);
      }
      // Even a NODATA here depends on the subnet: another subnet's cluster may have the family.
      geoScoped = route.strategy.type === 'Geo' && ecs?.address !== undefined;
    }
  }
  let ecsOut = ecs?.data;
  if (ecsOut && geoScoped) {
    ecsOut = Buffer.from(ecsOut);
    ecsOut[3] = ecsOut[2]!; // SCOPE = SOURCE: the answer is for this subnet only
  }
  const reuse = { name, route, ranking, clientAddress: ecs?.address };
  if (records.length > 0) {
    const packet = reply(query, 'NOERROR', opt, {
      aa: true,
      answers: records,
      additionals: glue,
      ecs: ecsOut,
    });
    return { packet, rcode: 'NOERROR', zone, reuse };
  }
  // A name that exists only as an ancestor of a published name (an empty non-terminal) has no
  // records but must not be NXDOMAIN (RFC 8020: that would deny everything below it). This depends
  // on every route, so such answers are never cached.
  const suffix = `.${name}`;
  const nonTerminal =
    !exists &&
    (c.config.nameservers.some((ns) => ns.name.endsWith(suffix)) ||
      ctx.table.routes().some((r) => r.host.endsWith(suffix))); // HostRoute.host is canonical
  const rcode: Rcode = exists || nonTerminal ? 'NOERROR' : 'NXDOMAIN';
  const soa = soaRecord(zone, c.negativeTtl, c.config.soa);
  const packet = reply(query, rcode, opt, { aa: true, authorities: [soa], ecs: ecsOut });
  return { packet, rcode, zone, reuse: exists ? reuse : undefined };
}

/** The response to a decoded query, or undefined when nothing must be sent (it was a response). */
export function answerQuery(query: Packet, ctx: AnswerContext): Packet | undefined {
  return decide(query, ctx)?.packet;
}

/** The smallest question (root name, type, class) and resource record (…, TTL, RDLENGTH) on the wire. */
const MIN_QUESTION_BYTES = 5;
const MIN_RECORD_BYTES = 11;

/**
 * Why a message cannot be a query worth decoding, from its 12-byte header alone, or undefined.
 * dns-packet's decode() loops over the header's section counts whatever the length (a 12-byte
 * packet claiming 65,535 questions costs it milliseconds): counts the bytes cannot hold are
 * refused first, and so is any query without exactly one question (RFC 1035 §4.1.2 allows more
 * in theory; no server answers them). Pure.
 */
export function malformedHeader(message: Buffer): string | undefined {
  if (message.length < 12) return 'shorter than a header';
  const qd = message.readUInt16BE(4);
  const records = message.readUInt16BE(6) + message.readUInt16BE(8) + message.readUInt16BE(10);
  if (12 + qd * MIN_QUESTION_BYTES + records * MIN_RECORD_BYTES > message.length)
    return 'section counts larger than the message';
  if ((message.readUInt16BE(2) & QR) === 0 && qd !== 1) return 'not exactly one question';
  return undefined;
}

/**
 * FORMERR for a query that could not be decoded (RFC 1035 §4.1.1), built from its header alone:
 * the ID, opcode, RD and CD echoed, no sections. Nothing for a message too short for a header or
 * one that is itself a response (answering answers invites loops).
 */
function formatError(message: Buffer): WireAnswer | undefined {
  if (message.length < 12) return undefined;
  const flags = message.readUInt16BE(2);
  if ((flags & QR) !== 0) return undefined;
  const out = Buffer.alloc(12);
  message.copy(out, 0, 0, 2);
  out.writeUInt16BE(QR | (flags & 0x7800) | (flags & (RD | CD)) | RCODES.FORMERR, 2);
  return { message: out, rcode: 'FORMERR' };
}

function wireAnswer(
  message: Buffer,
  ctx: AnswerContext,
  given?: Ranking,
): { wire: WireAnswer; reuse?: Reuse } | undefined {
  if (malformedHeader(message) !== undefined) {
    const wire = formatError(message);
    return wire && { wire };
  }
  let query: Packet;
  try {
    query = decode(message);
  } catch {
    const wire = formatError(message);
    return wire && { wire };
  }
  try {
    const d = decide(query, ctx, given);
    if (!d) return undefined;
    const limit = ctx.transport === 'udp' ? udpPayloadLimit(query) : 0xffff;
    return { wire: { message: fitToUdp(d.packet, limit), rcode: d.rcode, zone: d.zone }, reuse: d.reuse };
  } catch {
    // A bug or a record the library cannot encode: SERVFAIL beats silence (the resolver retries).
    const packet = reply({ id: query.id, flags: query.flags }, 'SERVFAIL', undefined);
    return { wire: { message: encode(packet), rcode: 'SERVFAIL' } };
  }
}

/**
 * Wire in, wire out: decodes, answers and encodes (fitted to the client's UDP size over UDP).
 * Undecodable queries get FORMERR when the header can be read, else nothing; never throws.
 */
export function answerMessage(message: Buffer, ctx: AnswerContext): WireAnswer | undefined {
  return wireAnswer(message, ctx)?.wire;
}

interface CacheEntry {
  readonly zone: DnsZoneConfig;
  readonly name: string;
  readonly route: HostRoute | undefined;
  /** End of the question section, whose bytes each reply copies from its query (case as asked). */
  readonly questionEnd: number;
  /** The response, when no cluster choice went into it. */
  readonly fixed?: WireAnswer;
  readonly clientAddress?: string;
  /** Responses by cluster choice (names in answer order). */
  readonly byChoice: Map<string, WireAnswer>;
}

const MAX_QUERY = 512;
const MAX_CHOICES = 64;

function choiceKey(ranking: Ranking): string {
  const cs = ranking.clusters;
  if (cs.length === 1) return cs[0]!.name;
  let key = '';
  for (const c of cs) key += `${c.name}\n`;
  return key;
}

/**
 * answerMessage() with memory: a repeated question (same bytes apart from the ID and the case of
 * the name) reuses the encoded response instead of decoding, deciding and encoding again. The
 * cluster choice is still made per query (dnsAnswerClusters), so RoundRobin rotation, Weighted
 * counts and Geo by resolver address behave exactly as without the cache; a response is reused
 * only for the same route object (the controller replaces it on any change), zone config and
 * choice. Answers that depend on the whole table (NXDOMAIN, empty non-terminals) are not kept.
 */
export class AnswerCache {
  private readonly entries = { udp: new Map<string, CacheEntry>(), tcp: new Map<string, CacheEntry>() };
  private readonly scratch = Buffer.alloc(MAX_QUERY);
  private questionEnd = 0;

  constructor(private readonly maxEntries = 10_000) {}

  answer(message: Buffer, ctx: AnswerContext): WireAnswer | undefined {
    const key = this.keyOf(message);
    if (key === undefined) return answerMessage(message, ctx);
    const entries = this.entries[ctx.transport];
    const e = entries.get(key);
    if (!e || e.zone !== ctx.zone || ctx.table.route(e.name) !== e.route) return this.miss(key, message, ctx);
    if (e.fixed) return reuse(e.fixed, message, e.questionEnd);
    const ranking = dnsAnswerClusters(e.route!, {
      clientAddress: e.clientAddress ?? ctx.resolverAddress,
      geo: ctx.geo,
      counters: ctx.counters,
    });
    const hit = e.byChoice.get(choiceKey(ranking));
    return hit ? reuse(hit, message, e.questionEnd) : this.miss(key, message, ctx, ranking, e);
  }

  /** The cache key: the message after the ID with the name in lower case; undefined: do not cache. */
  private keyOf(message: Buffer): string | undefined {
    const len = message.length;
    // Queries (QR clear) with exactly one question, small enough for the scratch buffer.
    if (len < 17 || len > MAX_QUERY || message[2]! & 0x80 || message[4] !== 0 || message[5] !== 1)
      return undefined;
    const s = this.scratch;
    message.copy(s, 0, 0, len);
    let i = 12;
    for (;;) {
      const label = s[i]!;
      if (label === 0) break;
      if (label > 63) return undefined; // a compression pointer or a reserved label type
      for (let j = i + 1; j <= i + label && j < len; j++) {
        s[j] = lower(s[j]!);
      }
      i += label + 1;
      if (i >= len) return undefined;
    }
    this.questionEnd = i + 5; // the root label, type and class
    if (this.questionEnd > len) return undefined;
    return s.toString('latin1', 2, len);
  }

  private miss(
    key: string,
    message: Buffer,
    ctx: AnswerContext,
    ranking?: Ranking,
    entry?: CacheEntry,
  ): WireAnswer | undefined {
    const questionEnd = this.questionEnd;
    const result = wireAnswer(message, ctx, ranking);
    if (!result) return undefined;
    const { wire, reuse: r } = result;
    if (!r || !sameQuestion(wire.message, message, questionEnd)) return wire;
    const entries = this.entries[ctx.transport];
    if (r.ranking) {
      let e = entry;
      if (!e || e.route !== r.route || e.zone !== ctx.zone) {
        e = {
          zone: ctx.zone,
          name: r.name,
          route: r.route,
          questionEnd,
          clientAddress: r.clientAddress,
          byChoice: new Map(),
        };
        this.store(entries, key, e);
      }
      if (e.byChoice.size < MAX_CHOICES) e.byChoice.set(choiceKey(r.ranking), wire);
    } else {
      this.store(entries, key, {
        zone: ctx.zone,
        name: r.name,
        route: r.route,
        questionEnd,
        fixed: wire,
        byChoice: new Map(),
      });
    }
    return wire;
  }

  private store(entries: Map<string, CacheEntry>, key: string, entry: CacheEntry): void {
    // Dropping everything at the bound is crude but free per query; real zones have few names.
    if (entries.size >= this.maxEntries) entries.clear();
    entries.set(key, entry);
  }
}

/** DNS names compare case-insensitively in ASCII only (RFC 4343): other bytes are kept as they are. */
const lower = (b: number): number => (b >= 0x41 && b <= 0x5a ? b | 0x20 : b);

/** The response's question section equals the query's up to case (so it can be copied in). */
function sameQuestion(response: Buffer, query: Buffer, end: number): boolean {
  if (response.length < end || response.readUInt16BE(4) !== 1) return false;
  for (let i = 12; i < end; i++) if (lower(response[i]!) !== lower(query[i]!)) return false;
  return true;
}

/** A cached response with this query's ID and question bytes. */
function reuse(wire: WireAnswer, query: Buffer, questionEnd: number): WireAnswer {
  const out = Buffer.allocUnsafe(wire.message.length);
  wire.message.copy(out);
  query.copy(out, 0, 0, 2);
  query.copy(out, 12, 12, questionEnd);
  return { message: out, rcode: wire.rcode, zone: wire.zone };
}
