// The cluster DNS server over UDP and TCP on loopback, asked by dig and by Node's resolver: an
// answer too large for UDP is truncated (TC) and whole over TCP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import { decode, encode, type DecodedPacket } from 'dns-packet';
import { dnsRecords } from './cluster-dns-answer.ts';
import { ClusterDnsServer, UDP_PLAIN_MAX, clusterDnsResponse } from './cluster-dns-server.ts';

const DNS = { host: '127.114.53.253', port: 5353 };
/** A headless Service with more ready pods than one plain UDP answer holds. */
const PODS = Array.from({ length: 60 }, (_, i) => `127.114.52.${i + 1}`);
const NAME = 'db.shop.svc.cluster.local';
const records = dnsRecords(
  new Map([
    ['db.shop', PODS],
    ['app2.shop', ['127.114.53.1']],
  ]),
  [],
  [],
);
let server: ClusterDnsServer;

before(async () => {
  server = new ClusterDnsServer(DNS.host, DNS.port, () => records);
  await server.start();
});
after(() => server.stop());

/** Runs dig against the server; its stdout. */
function dig(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      'dig',
      [`@${DNS.host}`, '-p', String(DNS.port), '+time=2', '+tries=1', ...args],
      { timeout: 15_000 },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    ),
  );
}

const answersIn = (out: string): string[] =>
  out
    .split('\n')
    .filter((l) => /\sIN\s+A\s/.test(l) && !l.startsWith(';'))
    .map((l) => l.trim().split(/\s+/).pop()!);
const flagsIn = (out: string): string[] => /;; flags: ([a-z ]+);/.exec(out)?.[1]?.split(' ') ?? [];

test('pure: over UDP a large answer keeps the records that fit and sets TC; over TCP it is whole', () => {
  const q = encode({ id: 7, type: 'query', flags: 0x0100, questions: [{ name: NAME, type: 'A' }] });
  const udp = clusterDnsResponse(q, records, 'udp')!;
  const u = decode(udp) as DecodedPacket & { flag_tc: boolean };
  assert.ok(udp.length <= UDP_PLAIN_MAX, `UDP answer of ${udp.length} bytes`);
  assert.equal(u.flag_tc, true);
  assert.ok((u.answers?.length ?? 0) > 0 && (u.answers?.length ?? 0) < PODS.length);
  const t = decode(clusterDnsResponse(q, records, 'tcp')!) as DecodedPacket & { flag_tc: boolean };
  assert.equal(t.flag_tc, false);
  assert.equal(t.answers?.length, PODS.length);
  // A small answer is never truncated.
  const small = encode({
    id: 8,
    type: 'query',
    questions: [{ name: 'app2.shop.svc.cluster.local', type: 'A' }],
  });
  const s = decode(clusterDnsResponse(small, records, 'udp')!) as DecodedPacket & { flag_tc: boolean };
  assert.equal(s.flag_tc, false);
  assert.equal(s.answers?.length, 1);
});

test('dig over UDP without EDNS gets a truncated answer (TC), dig +tcp every record', async () => {
  const udp = await dig('+noedns', '+ignore', NAME, 'A');
  assert.ok(flagsIn(udp).includes('tc'), udp);
  assert.ok(answersIn(udp).length < PODS.length, udp);
  const tcp = await dig('+tcp', NAME, 'A');
  assert.ok(!flagsIn(tcp).includes('tc'), tcp);
  assert.deepEqual(answersIn(tcp).sort(), [...PODS].sort());
  // Plain dig (UDP with EDNS 1232) is truncated too, retries over TCP and gets them all.
  const retried = await dig(NAME, 'A');
  assert.deepEqual(answersIn(retried).sort(), [...PODS].sort());
  // Errors travel over TCP as over UDP.
  assert.match(await dig('+tcp', 'nope.shop.svc.cluster.local', 'A'), /status: NXDOMAIN/);
  assert.match(await dig('+tcp', 'www.example.com', 'A'), /status: REFUSED/);
});

test("Node's resolver falls back to TCP for the truncated answer", async () => {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`${DNS.host}:${DNS.port}`]);
  assert.deepEqual((await r.resolve4(NAME)).sort(), [...PODS].sort());
});

test('TCP: queries pipelined on one connection are answered in order, each length-prefixed', async () => {
  const frame = (id: number, name: string): Buffer => {
    const m = encode({ id, type: 'query', questions: [{ name, type: 'A' }] });
    const head = Buffer.alloc(2);
    head.writeUInt16BE(m.length);
    return Buffer.concat([head, m]);
  };
  const socket = connect(DNS);
  socket.write(Buffer.concat([frame(1, NAME), frame(2, 'app2.shop.svc.cluster.local')]));
  let buf = Buffer.alloc(0);
  const replies: DecodedPacket[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${replies.length} replies`)), 5_000);
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        replies.push(decode(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (replies.length === 2) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  socket.destroy();
  assert.deepEqual(
    replies.map((r) => [r.id, r.answers?.length]),
    [
      [1, PODS.length],
      [2, 1],
    ],
  );
});
