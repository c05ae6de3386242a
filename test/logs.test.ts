// Fleet logs against a real local fleet (hub + 3 members, kwok serving pod logs from files):
// time-ordered merge with cluster prefixes and topology labels, --cluster/--since/--grep, the
// HTTP query and SSE stream behind the hub's authentication, a follow that survives a member's
// API server being killed and restarted (marker, no repeats, new pods picked up), bad input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../src/toolchain/binaries.ts';
import type { LogEvent, LogLine } from '../src/observe/logs/log-event.ts';
import { SseParser } from '../console/src/sse-parser.ts';
import { timeOfMs } from '../src/observe/logs/log-timestamp.ts';
import {
  cli,
  fleetUp,
  joinMembers,
  newFleetHome,
  readPidFile,
  serviceAccountToken,
  startHub,
  waitFor,
  type HubProcess,
  type TestFleet,
  applyDocs,
  tearDownFleet,
} from './support/harness.ts';

const fleet: TestFleet = newFleetHome('127.72.0');
const MEMBERS = ['eu-west', 'us-east', 'ap-south'] as const;
const HUB_PORT = 18443;
const logDir = mkdtempSync(join(tmpdir(), 'meridian-logs-test-'));
let hub: HubProcess;
let viewerToken = '';
let strangerToken = '';

// 24 lines, 10 s apart, round-robin over the members, the newest a minute old: the merged order
// alternates clusters, so any per-cluster concatenation would show.
const NOW = Date.now();
const T0 = NOW - 300_000;
const stamp = timeOfMs;
interface Seed {
  member: string;
  time: string;
  message: string;
}
const SEED: Seed[] = Array.from({ length: 24 }, (_, i) => ({
  member: MEMBERS[i % 3]!,
  time: stamp(T0 + i * 10_000),
  message: i % 4 === 0 ? `ERROR order ${i} failed` : `handled request ${i}`,
}));

const fileOf = (pod: string): string => join(logDir, `${pod}.log`);
const criLine = (time: string, message: string): string => `${time} stdout F ${message}\n`;
const podOf = (member: string): string => `app2-${member}`;

const apply = (context: string, docs: object[]): Promise<void> => applyDocs(fleet, context, docs);

/** A kwok pod in `shop` whose container logs come from a file (kwok's Logs object). */
function podWithLogs(name: string, labels: Record<string, string>, nodeName?: string): object[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'shop', labels },
      spec: { containers: [{ name: 'app', image: 'example/app2:1' }], ...(nodeName ? { nodeName } : {}) },
    },
    {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'Logs',
      metadata: { name, namespace: 'shop' },
      spec: { logs: [{ containers: ['app'], logsFile: fileOf(name), follow: true }] },
    },
  ];
}

const hubFlags = ['--hub-kubeconfig', fleet.kubeconfig, '--hub-context', 'hub'];
const logs = (args: string[]) => cli(['logs', ...args, ...hubFlags], fleet.env, 60_000);

function jsonEvents(stdout: string): LogEvent[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LogEvent);
}
const linesOf = (evs: LogEvent[]): LogLine[] => evs.filter((e): e is LogLine => e.kind === 'line');

function api(path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `http://127.0.0.1:${HUB_PORT}${path}`,
      { headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 30_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('fleet logs', () => {
  before(async () => {
    for (const m of MEMBERS) writeFileSync(fileOf(podOf(m)), '');
    for (const s of SEED) appendFileSync(fileOf(podOf(s.member)), criLine(s.time, s.message));
    writeFileSync(fileOf('other-eu-west'), criLine(stamp(T0 + 5_000), 'not app2'));
    await fleetUp(fleet, MEMBERS.length);
    hub = await startHub(fleet, 'logs-hub', HUB_PORT);
    await joinMembers(fleet, MEMBERS);
    for (const m of MEMBERS) {
      await apply(m, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }]);
      await apply(m, podWithLogs(podOf(m), { app: 'app2', 'app.kubernetes.io/name': 'app2' }));
    }
    await apply('eu-west', podWithLogs('other-eu-west', { app: 'other' }));
    viewerToken = await serviceAccountToken(fleet, 'logs-viewer', 'meridian-viewer');
    strangerToken = await serviceAccountToken(fleet, 'logs-stranger', undefined);
    // Pods are scheduled and kwok has loaded their Logs objects once every seeded line is served.
    await waitFor(
      'every seeded line served',
      60_000,
      async () => {
        const r = await logs(['-l', 'app=app2', '-o', 'json']);
        return linesOf(jsonEvents(r.stdout)).length === SEED.length ? true : undefined;
      },
      500,
    );
  });

  after(async () => {
    if (hub) writeFileSync(join(tmpdir(), 'meridian-logs-test-hub.log'), hub.logs());
    await tearDownFleet(fleet, hub);
    rmSync(logDir, { recursive: true, force: true });
  });

  test('merges every cluster in time order, each line labelled with its topology', async () => {
    const r = await logs(['-l', 'app=app2', '--all-clusters', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = linesOf(jsonEvents(r.stdout));
    assert.deepEqual(
      lines.map((l) => [l.cluster, l.time, l.message]),
      SEED.map((s) => [s.member, s.time, s.message]),
    );
    for (const l of lines) {
      assert.equal(l.region, l.cluster);
      assert.equal(l.namespace, 'shop');
      assert.equal(l.pod, podOf(l.cluster));
      assert.equal(l.container, 'app');
      assert.equal(l.app, 'app2');
    }
    const text = await logs(['-l', 'app=app2']);
    const first = text.stdout.split('\n')[0];
    assert.equal(first, `[eu-west] shop/app2-eu-west/app ${SEED[0]!.message}`);
    assert.equal(text.stdout.trim().split('\n').length, SEED.length);
  });

  test('--cluster, --since and --grep narrow the lines', async () => {
    const two = linesOf(
      jsonEvents(
        (await logs(['-l', 'app=app2', '--cluster', 'eu-west', '--cluster', 'ap-south', '-o', 'json']))
          .stdout,
      ),
    );
    assert.deepEqual(
      two.map((l) => l.message),
      SEED.filter((s) => s.member !== 'us-east').map((s) => s.message),
    );
    // Half-way between line 11 and line 12: exactly the last twelve lines.
    const mid = new Date(T0 + 115_000).toISOString();
    const since = linesOf(jsonEvents((await logs(['-l', 'app=app2', '--since', mid, '-o', 'json'])).stdout));
    assert.deepEqual(
      since.map((l) => l.message),
      SEED.slice(12).map((s) => s.message),
    );
    const recent = await logs(['-l', 'app=app2', '--since', '30s', '-o', 'json']);
    assert.equal(linesOf(jsonEvents(recent.stdout)).length, 0);
    const all = await logs(['-l', 'app=app2', '--since', '1h', '-o', 'json']);
    assert.equal(linesOf(jsonEvents(all.stdout)).length, SEED.length);
    const errors = linesOf(
      jsonEvents((await logs(['-l', 'app=app2', '--grep', '^ERROR order \\d+', '-o', 'json'])).stdout),
    );
    assert.deepEqual(
      errors.map((l) => l.message),
      SEED.filter((s) => s.message.startsWith('ERROR')).map((s) => s.message),
    );
    const other = linesOf(
      jsonEvents((await logs(['-l', 'app in (other)', '-n', 'shop', '-o', 'json'])).stdout),
    );
    assert.deepEqual(
      other.map((l) => [l.cluster, l.message, l.app]),
      [['eu-west', 'not app2', 'other']],
    );
  });

  test('the HTTP API answers the same query with a token, and refuses without one', async () => {
    const q = '/api/v1/logs?selector=app%3Dapp2';
    const ok = await api(q, viewerToken);
    assert.equal(ok.status, 200, ok.body);
    const body = JSON.parse(ok.body) as { lines: LogLine[]; warnings: unknown[]; truncated: boolean };
    assert.deepEqual(
      body.lines.map((l) => [l.cluster, l.time, l.message]),
      SEED.map((s) => [s.member, s.time, s.message]),
    );
    assert.deepEqual(body.warnings, []);
    assert.equal(body.truncated, false);
    const limited = JSON.parse(
      (await api(`${q}&limit=5&cluster=eu-west,us-east`, viewerToken)).body,
    ) as typeof body;
    assert.deepEqual(
      limited.lines.map((l) => l.message),
      SEED.filter((s) => s.member !== 'ap-south')
        .slice(-5)
        .map((s) => s.message),
    );
    assert.equal(limited.truncated, true);
    assert.equal((await api(q)).status, 401);
    assert.equal((await api(q, 'not-a-token')).status, 401);
    assert.equal((await api(q, strangerToken)).status, 403);
    assert.equal((await api('/api/v1/logs/stream?selector=app%3Dapp2')).status, 401);
  });

  test('bad parameters are a 400 naming the parameter; bad flags exit 2 naming the flag', async () => {
    const cases: [string, string][] = [
      ['/api/v1/logs', 'selector'],
      ['/api/v1/logs?selector=app%3D%3D%3D', 'selector'],
      ['/api/v1/logs?selector=app%3Dapp2&since=soon', 'since'],
      ['/api/v1/logs?selector=app%3Dapp2&grep=(', 'grep'],
      ['/api/v1/logs?selector=app%3Dapp2&cluster=eu-wst', 'cluster'],
      ['/api/v1/logs?selector=app%3Dapp2&limit=0', 'limit'],
      ['/api/v1/logs/stream?selector=app%3Dapp2&cluster=eu-wst', 'cluster'],
    ];
    for (const [path, param] of cases) {
      const r = await api(path, viewerToken);
      assert.equal(r.status, 400, `${path}: ${r.body}`);
      const b = JSON.parse(r.body) as { error: string; param: string };
      assert.equal(b.param, param, path);
      assert.ok(b.error.startsWith(`${param}: `), b.error);
    }
    const flags: [string[], RegExp][] = [
      [['-l', 'app=app2,'], /^error: -l\/--selector: .*empty requirement/],
      [['-l', 'app=app2', '--since', 'tomorrow'], /^error: --since: "tomorrow" is neither a duration/],
      [
        ['-l', 'app=app2', '--cluster', 'eu-wst'],
        /^error: --cluster: cluster "eu-wst" is not registered \(known: ap-south, eu-west, us-east\)/,
      ],
      [['-l', 'app=app2', '--grep', '[a-'], /^error: --grep: not a valid regular expression/],
      [['--grep', 'x'], /^error: -l\/--selector: a label selector is required/],
    ];
    for (const [args, re] of flags) {
      const r = await logs(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });

  /** Opens the SSE stream; events (with their SSE ids) arrive in `events` until `close`. */
  function openStream(headers: Record<string, string> = {}): {
    events: (LogEvent & { sseId?: string })[];
    status: Promise<number>;
    close: () => Promise<number>;
  } {
    const events: (LogEvent & { sseId?: string })[] = [];
    const abort = new AbortController();
    const status = new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `http://127.0.0.1:${HUB_PORT}/api/v1/logs/stream?selector=app%3Dapp2&cluster=eu-west&cluster=us-east`,
        { headers: { authorization: `Bearer ${viewerToken}`, ...headers }, signal: abort.signal },
        (res) => {
          if (res.statusCode === 200)
            assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
          const parser = new SseParser();
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            for (const ev of parser.push(d))
              events.push({ ...(JSON.parse(ev.data) as LogEvent), sseId: ev.id || undefined });
          });
          res.on('close', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', (e) => (abort.signal.aborted ? resolve(0) : reject(e)));
      req.end();
    });
    return {
      events,
      status,
      close: () => {
        abort.abort();
        return status;
      },
    };
  }

  test('the SSE stream sends the backlog in order, then new lines as they are written', async () => {
    const stream = openStream();
    const { events } = stream;
    const wanted = SEED.filter((s) => s.member !== 'ap-south');
    await waitFor('backlog over SSE', 20_000, () =>
      linesOf(events).length >= wanted.length ? true : undefined,
    );
    assert.deepEqual(
      linesOf(events).map((l) => l.message),
      wanted.map((s) => s.message),
    );
    for (const l of linesOf(events)) assert.equal((l as LogLine & { sseId?: string }).sseId, `${l.time}#1`);
    const live = `live line ${Date.now()}`;
    appendFileSync(fileOf(podOf('us-east')), criLine(stamp(Date.now()), live));
    await waitFor('live line over SSE', 20_000, () =>
      linesOf(events).some((l) => l.message === live) ? true : undefined,
    );
    await stream.close();
    assert.equal(linesOf(events).filter((l) => l.message === live).length, 1);
  });

  test('a client reconnecting with Last-Event-ID gets the lines after its last one, none twice', async () => {
    // Two lines of one instant in two containers: the id must tell them apart.
    const twin = stamp(Date.now());
    appendFileSync(fileOf(podOf('eu-west')), criLine(twin, 'twin one'));
    appendFileSync(fileOf(podOf('us-east')), criLine(twin, 'twin two'));
    const query = await api('/api/v1/logs?selector=app%3Dapp2&cluster=eu-west&cluster=us-east', viewerToken);
    const backlog = (JSON.parse(query.body) as { lines: LogLine[] }).lines;
    assert.ok(backlog.filter((l) => l.time === twin).length === 2, query.body.slice(0, 500));

    const first = openStream();
    await waitFor('the whole backlog over SSE', 20_000, () =>
      linesOf(first.events).length >= backlog.length ? true : undefined,
    );
    await first.close();
    const lines = linesOf(first.events) as (LogLine & { sseId?: string })[];
    // The client saw everything up to the first of the twins, then lost its connection.
    const cut = lines.findIndex((l) => l.time === twin) + 1;
    assert.equal(lines[cut - 1]?.sseId, `${twin}#1`);
    assert.equal(lines[cut]?.sseId, `${twin}#2`);
    const resumed = openStream({ 'last-event-id': lines[cut - 1]!.sseId! });
    const rest = lines.slice(cut);
    // A line written after the reconnect: once it is there, any repeat would have come before it.
    const after = `after reconnect ${Date.now()}`;
    await waitFor('the lines after Last-Event-ID', 20_000, () =>
      linesOf(resumed.events).length >= rest.length ? true : undefined,
    );
    appendFileSync(fileOf(podOf('us-east')), criLine(stamp(Date.now()), after));
    await waitFor('the new line on the resumed stream', 20_000, () =>
      linesOf(resumed.events).some((l) => l.message === after) ? true : undefined,
    );
    await resumed.close();
    assert.deepEqual(
      linesOf(resumed.events).map((l) => l.message),
      [...rest.map((l) => l.message), after],
    );

    for (const id of ['yesterday', twin, `${twin}#0`]) {
      const bad = openStream({ 'last-event-id': id });
      assert.equal(await bad.status, 400, id);
    }
  });

  test('a follow survives a member API server restart: marker, no repeats, new lines and new pods', async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'bin', 'meridian.mjs'),
        'logs',
        '-l',
        'app=app2',
        '-f',
        '-o',
        'json',
        '--since',
        '1h',
        ...hubFlags,
      ],
      { env: { ...process.env, ...fleet.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const seen = (): LogEvent[] => jsonEvents(out.slice(0, out.lastIndexOf('\n') + 1));
    const has = (msg: string) => (): true | undefined =>
      linesOf(seen()).some((l) => l.message === msg) ? true : undefined;
    try {
      await waitFor('follow backlog', 30_000, () =>
        linesOf(seen()).length >= SEED.length ? true : undefined,
      );
      const run = Date.now();
      const write = (member: string, msg: string): void =>
        appendFileSync(fileOf(podOf(member)), criLine(stamp(Date.now()), msg));
      write('us-east', `before-kill ${run}`);
      await waitFor('line before the kill', 20_000, has(`before-kill ${run}`));

      // A pod that matches the selector appears during the follow. (Before the restart: after one,
      // kube-scheduler and kwok's watch of Logs objects back off for up to a minute, not under test.)
      const fresh = 'app2-us-east-new';
      writeFileSync(fileOf(fresh), criLine(stamp(Date.now()), `new pod says hello ${run}`));
      await apply('us-east', podWithLogs(fresh, { app: 'app2' }, 'us-east-node-0'));
      await waitFor('line of a new pod', 30_000, has(`new pod says hello ${run}`));

      process.kill(readPidFile(join(fleet.dir, 'us-east', 'kube-apiserver.pid')), 'SIGKILL');
      await waitFor('interrupted marker', 20_000, () =>
        seen().some((e) => e.kind === 'marker' && e.cluster === 'us-east' && e.reason === 'Interrupted')
          ? true
          : undefined,
      );
      write('us-east', `during-outage ${run}`);
      write('eu-west', `other cluster keeps flowing ${run}`);
      await waitFor('eu-west line while us-east is down', 20_000, has(`other cluster keeps flowing ${run}`));
      // A query while a member is down: a warning for it, lines from the others, success.
      const partial = await logs(['-l', 'app=app2', '-o', 'json']);
      assert.equal(partial.code, 0, partial.stderr);
      const pe = jsonEvents(partial.stdout);
      assert.ok(
        pe.some((e) => e.kind === 'warning' && e.cluster === 'us-east'),
        partial.stdout.slice(0, 500),
      );
      assert.ok(linesOf(pe).some((l) => l.cluster === 'eu-west'));

      await fleetUp(fleet, MEMBERS.length); // restarts the stopped API server
      write('us-east', `after-restart ${run}`);
      await waitFor('line after the restart', 60_000, has(`after-restart ${run}`));
      assert.ok(seen().some((e) => e.kind === 'marker' && e.cluster === 'us-east' && e.reason === 'Resumed'));
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, err);
    const evs = seen();
    const lines = linesOf(evs);
    for (const msg of [
      'before-kill',
      'new pod says hello',
      'during-outage',
      'other cluster keeps flowing',
      'after-restart',
    ])
      assert.equal(lines.filter((l) => l.message.startsWith(msg)).length, 1, `${msg} exactly once`);
    const keys = lines.map((l) => `${l.cluster}/${l.pod}/${l.time}/${l.message}`);
    assert.equal(new Set(keys).size, keys.length, 'no line delivered twice');
    for (const seed of SEED)
      assert.equal(
        lines.filter((l) => l.time === seed.time && l.message === seed.message).length,
        1,
        seed.message,
      );
    const i = evs.findIndex((e) => e.kind === 'marker' && e.reason === 'Interrupted');
    const j = evs.findIndex((e) => e.kind === 'line' && e.message.startsWith('before-kill'));
    assert.ok(j < i, 'the marker comes after the last line before the break');
  });
});
