// APP 1 → APP 2 → PostgreSQL as three real processes on loopback, configured only by environment
// variables as the Deployments configure them: an order written through APP 1 is readable
// through APP 1, and the trace of the write reaches a stand-in OTLP receiver whole — APP 1's server
// and client spans, APP 2's server span under APP 1's client span, the SQL span under APP 2's —
// in both OTLP encodings, decoded by the hub's own decoders.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { decodeJsonRequest } from '../../../src/observe/traces/otlp-json.ts';
import { decodeProtobufRequest } from '../../../src/observe/traces/otlp-proto.ts';
import {
  POSTGRES_SKIP_REASON,
  findPostgresBin,
  startPostgres,
  type PostgresServer,
} from './postgres-server.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const bin = findPostgresBin();

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
  cluster: string;
  namespace: string;
}

/**
 * A stand-in for the hub's OTLP/HTTP receiver that decodes with the hub's own decoders (protobuf,
 * the SDK's default, and JSON), and remembers the spans, the paths and the auth headers it got.
 */
async function otlpReceiver(): Promise<{
  url: string;
  spans: OtlpSpan[];
  seen: Set<string>;
  server: Server;
}> {
  const spans: OtlpSpan[] = [];
  const seen = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = String(req.headers['content-type']).split(';')[0];
      seen.add(`${req.url} ${type} ${req.headers['authorization']}`);
      const body = Buffer.concat(chunks);
      const batch =
        type === 'application/x-protobuf'
          ? decodeProtobufRequest(body)
          : type === 'application/json'
            ? decodeJsonRequest(body.toString('utf8'))
            : undefined;
      if (!batch) {
        res.writeHead(415).end();
        return;
      }
      for (const rs of batch) {
        const attr = (k: string) => String(rs.resource[k] ?? '');
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            spans.push({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name,
              service: attr('service.name'),
              cluster: attr('k8s.cluster.name'),
              namespace: attr('service.namespace'),
            });
      }
      res.writeHead(200, { 'content-type': type! }).end(type === 'application/json' ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, seen, server };
}

interface App {
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: () => string;
}

/** Starts an app's main.ts like its container would, and waits until it listens. */
async function startApp(name: 'app1' | 'app2', env: Record<string, string>): Promise<App> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(HERE, '..', name, 'src', 'main.ts')], {
    env: { ...process.env, PORT: '0', LISTEN_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
    if (line) {
      const { port } = JSON.parse(line) as { port: number };
      return { child, url: `http://127.0.0.1:${port}`, output: () => out };
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start:\n${out}`);
    await sleep(50);
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last error: ${String(last)}`);
    await sleep(100);
  }
}

/** The exit code of a child, or 'still running' after `ms`. */
function exitWithin(child: ChildProcess, ms: number): Promise<number | null | 'still running'> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still running'), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe(
  'the reference system end to end: APP 1 → APP 2 → PostgreSQL',
  { skip: bin ? false : POSTGRES_SKIP_REASON },
  () => {
    let db: PostgresServer;
    let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
    let app1: App;
    let app2: App;

    before(async () => {
      [db, receiver] = await Promise.all([startPostgres(bin!), otlpReceiver()]);
      const otel = {
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20test-token',
        OTEL_RESOURCE_ATTRIBUTES: 'service.namespace=shop',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      };
      // APP 2 sends OTLP/JSON to a base endpoint, APP 1 the default protobuf to the hub's per-cluster path.
      app2 = await startApp('app2', {
        ...otel,
        ...db.env,
        CLUSTER_NAME: 'us-east',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      });
      await until('app2 ready', async () => ((await fetch(`${app2.url}/readyz`)).ok ? true : undefined));
      app1 = await startApp('app1', {
        ...otel,
        CLUSTER_NAME: 'eu-west',
        APP2_URL: app2.url,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/clusters/eu-west/traces`,
      });
    });

    after(async () => {
      for (const app of [app1, app2]) if (app?.child.exitCode === null) app.child.kill('SIGKILL');
      receiver?.server.close();
      await db?.stop();
    });

    test('an order written through APP 1 is stored by APP 2 and readable through APP 1', async () => {
      const res = await fetch(`${app1.url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ item: 'croissant', quantity: 3 }),
      });
      assert.equal(res.status, 201, app1.output());
      assert.equal(res.headers.get('x-app1-cluster'), 'eu-west');
      assert.equal(res.headers.get('x-app2-cluster'), 'us-east');
      const order = (await res.json()) as { id: number; item: string; quantity: number; app1Cluster: string };
      assert.equal(order.app1Cluster, 'eu-west');
      const read = await fetch(`${app1.url}/orders/${order.id}`);
      assert.equal(read.status, 200);
      const again = (await read.json()) as {
        id: number;
        item: string;
        quantity: number;
        app2Cluster: string;
      };
      assert.deepEqual(
        [again.id, again.item, again.quantity, again.app2Cluster],
        [order.id, 'croissant', 3, 'us-east'],
      );
    });

    test('the trace of a write crosses both apps down to the SQL span', async () => {
      const spans = await until('the four spans of POST /orders', async () => {
        const s = receiver.spans;
        const front = s.find((x) => x.service === 'app1' && x.name === 'POST /orders');
        const call = front && s.find((x) => x.service === 'app1' && x.parentSpanId === front.spanId);
        const api = call && s.find((x) => x.service === 'app2' && x.parentSpanId === call.spanId);
        const sql = api && s.find((x) => x.service === 'app2' && x.parentSpanId === api.spanId);
        return sql ? { front: front!, call: call!, api: api!, sql } : undefined;
      });
      assert.equal(spans.call.name, 'POST');
      assert.equal(spans.api.name, 'POST /orders');
      assert.equal(spans.sql.name, 'INSERT orders');
      assert.equal(new Set(Object.values(spans).map((s) => s.traceId)).size, 1);
      assert.equal(spans.front.parentSpanId, undefined, 'APP 1 starts the trace');
      assert.deepEqual(
        Object.values(spans).map((s) => s.cluster),
        ['eu-west', 'eu-west', 'us-east', 'us-east'],
      );
      assert.ok(
        Object.values(spans).every((s) => s.namespace === 'shop'),
        'OTEL_RESOURCE_ATTRIBUTES applies',
      );
      assert.deepEqual([...receiver.seen].sort(), [
        '/v1/clusters/eu-west/traces application/x-protobuf Bearer test-token',
        '/v1/traces application/json Bearer test-token',
      ]);
    });

    test('both apps log JSON lines carrying the trace id of the request', async () => {
      const traceId = receiver.spans.find((s) => s.service === 'app1' && s.name === 'POST /orders')!.traceId;
      for (const app of [app1, app2]) {
        const line = app
          .output()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { msg: string; trace_id?: string; route?: string })
          .find((l) => l.msg === 'request' && l.trace_id === traceId);
        assert.ok(line, app.output());
      }
    });

    test('SIGTERM stops both apps cleanly', async () => {
      for (const app of [app1, app2]) {
        const exit = exitWithin(app.child, 15_000);
        app.child.kill('SIGTERM');
        assert.equal(await exit, 0, app.output());
        assert.match(app.output(), /"msg":"stopped"/);
      }
    });
  },
);
