// The GSLB DNS server under a burst of junk: 3,000 random 12-byte UDP packets (their header counts
// claim up to 65,535 questions and records, which dns-packet's decode() used to walk for
// milliseconds each) must not hold up a real query for more than 100 ms, and each readable junk
// query gets its FORMERR until the source is over its junk budget (100 a second), after which its
// packets are dropped unread (every second one answered TC=1). A real server on 127.112.1.1
// (loopback), closed at the end.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decode, encode } from 'dns-packet';

const ADDRESS = '127.112.1.1';
const JUNK = 3_000;
const PROBER = '127.112.1.2';

let server: ChildProcess;
let port = 0;
const sockets: Socket[] = [];

async function udpSocket(address = '127.0.0.1'): Promise<Socket> {
  // Room for every FORMERR of the burst while this process is busy sending it.
  const s = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  await new Promise<void>((r) => s.bind(0, address, r));
  sockets.push(s);
  return s;
}

describe('GSLB DNS under junk', () => {
  before(async () => {
    // Its own process: the burst sent from here must not be timed as the server's work.
    server = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'support', 'dns-server-child.ts'), ADDRESS],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(Number(out.trim()));
      });
      server.once('exit', (code) => reject(new Error(`DNS server exited with ${code}`)));
    });
  });

  after(async () => {
    for (const s of sockets) s.close();
    const exited = new Promise((r) => server.once('exit', r));
    server.stdin!.end();
    await exited;
  });
  test('3,000 junk packets hold up no real query for more than 100 ms', async () => {
    // Real queries from another address than the junk: the junk budget is per source address.
    const prober = await udpSocket(PROBER);
    const sentAt = new Map<number, number>();
    const rtts: number[] = [];
    prober.on('message', (m: Buffer) => {
      const d = decode(m) as ReturnType<typeof decode> & { rcode: string };
      const t = sentAt.get(d.id ?? -1);
      if (t === undefined) return;
      sentAt.delete(d.id!);
      assert.equal(d.rcode, 'NOERROR');
      assert.deepEqual(
        (d.answers ?? []).map((a) => ('data' in a ? a.data : undefined)),
        ['192.0.2.1'],
      );
      rtts.push(performance.now() - t);
    });
    let id = 0;
    const probe = (): void => {
      const q = encode({
        id: ++id,
        type: 'query',
        flags: 0x0100,
        questions: [{ name: 'shop.example.test', type: 'A', class: 'IN' }],
      });
      sentAt.set(id, performance.now());
      prober.send(q, port, ADDRESS);
    };
    // Real queries every 5 ms from before the burst until well after it.
    probe();
    const every = setInterval(probe, 5);

    const junk = await udpSocket();
    let formerr = 0;
    let truncated = 0;
    junk.on('message', (m: Buffer) => {
      if ((m.readUInt16BE(2) & 0xf) === 1) formerr++;
      else if (m.length === 12 && (m.readUInt16BE(2) & 0x8200) === 0x8200) truncated++;
    });
    let queries = 0;
    await new Promise((r) => setTimeout(r, 50));
    // The burst: 3,000 packets in a few tens of ms, in slices so that this process keeps
    // reading the probes' answers (and timing them) meanwhile.
    for (let i = 0; i < JUNK; i++) {
      const b = randomBytes(12);
      if ((b.readUInt16BE(2) & 0x8000) === 0) queries++;
      junk.send(b, port, ADDRESS);
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 700));
    clearInterval(every);
    await new Promise((r) => setTimeout(r, 200));

    const lost = sentAt.size;
    const worst = Math.max(...rtts);
    assert.equal(lost, 0, `${lost} real queries unanswered (a stall of more than 200 ms)`);
    assert.ok(rtts.length > 50, `${rtts.length} probes answered`);
    assert.ok(worst < 100, `a real query waited ${worst.toFixed(1)} ms behind the junk`);
    process.stdout.write(`# ${rtts.length} real queries, slowest ${worst.toFixed(1)} ms\n`);
    // The junk source gets FORMERRs for its first 100 or so junk queries (its budget per second),
    // then its packets are dropped unread, every second one answered with an empty TC=1 reply.
    process.stdout.write(`# junk: ${queries} queries, ${formerr} FORMERR, ${truncated} TC=1\n`);
    assert.ok(formerr >= 25 && formerr <= 200, `${formerr} FORMERR for ${queries} junk queries`);
    assert.ok(truncated > 500, `${truncated} truncated replies to ${JUNK} junk packets`);
  });
});
