// The README's main job, end to end: `meridian fleet up` starts the fleet and the hub, rolls the
// reference system out, publishes app1 through the GSLB DNS and the edge gateway, and a user
// reaches it with dig and an HTTP client.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { processesMentioning } from '../src/localfleet/processes.ts';
import { cli, getWithHost, newFleetHome, waitFor, type TestFleet } from './support/harness.ts';

const fleet: TestFleet = newFleetHome('127.96.0');
const HOST = 'shop.meridian.local';

function dig(): Promise<string[]> {
  return new Promise((resolve) => {
    execFile('dig', ['@127.0.0.1', '-p', '8053', HOST, 'A', '+short', '+time=2', '+tries=1'], (_e, out) =>
      resolve(out.split('\n').filter(Boolean).sort()),
    );
  });
}

describe('the main job: fleet up with the reference system', () => {
  after(async () => {
    await cli(['fleet', 'down'], fleet.env);
    assert.deepEqual(processesMentioning(fleet.dir + '/'), []);
    rmSync(fleet.home, { recursive: true, force: true });
  });

  test('fleet up deploys and publishes app1; DNS and the edge gateway reach it in every member', async () => {
    const up = await cli(['fleet', 'up', '--subnet', fleet.subnet], fleet.env, 900_000);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /reference system Healthy on 3\/3 clusters/);
    assert.match(up.stderr, /shop\.meridian\.local published through GSLB DNS and the edge gateway/);
    assert.match(up.stderr, /web console: http:\/\/127\.0\.0\.1:7443\/console\//);
    const consolePage = await fetch('http://127.0.0.1:7443/console/');
    assert.equal(consolePage.status, 200, 'fleet up built the console and the hub serves it');
    assert.match(await consolePage.text(), /<div id="root"><\/div>/);

    // RoundRobin: every healthy member's ingress address, rotated.
    assert.deepEqual(await dig(), ['127.96.1.2', '127.96.1.3', '127.96.1.4']);

    const clusters = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await getWithHost('http://127.0.0.1:8000/', HOST);
      assert.equal(r.status, 200, r.body);
      const body = JSON.parse(r.body) as { cluster: string; service: string; pod: string };
      assert.equal(body.service, 'app1');
      assert.match(body.pod, /^app1-/);
      clusters.add(body.cluster);
    }
    assert.deepEqual([...clusters].sort(), ['ap-south', 'eu-west', 'us-east']);

    const st = await cli(['traffic', 'status', HOST, '-o', 'json'], fleet.env);
    assert.equal(st.code, 0, st.stderr);
    const out = JSON.parse(st.stdout) as { clusters: { healthy: boolean }[]; strategy: string };
    assert.equal(out.strategy, 'RoundRobin');
    assert.ok(out.clusters.every((c) => c.healthy));
  });

  test("the reference system's logs come from every member, merged in time order with topology", async () => {
    const r = await waitFor('app2 log lines from all three members', 60_000, async () => {
      const r = await cli(
        ['logs', '-l', 'app=app2', '--all-clusters', '--since', '15m', '-o', 'json'],
        fleet.env,
      );
      if (r.code !== 0) return undefined;
      const lines = r.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map(
          (l) =>
            JSON.parse(l) as {
              kind: string;
              cluster?: string;
              time?: string;
              app?: string;
              revision?: string;
              message?: string;
            },
        )
        .filter((e) => e.kind === 'line');
      return new Set(lines.map((l) => l.cluster)).size === 3 ? lines : undefined;
    });
    const times = r.map((l) => l.time ?? '');
    assert.deepEqual(times, [...times].sort(), 'merged in time order');
    assert.ok(
      r.every((l) => l.app === 'app2' && l.revision === '1'),
      JSON.stringify(r[0]),
    );
    assert.ok(
      r.every((l) => l.message?.endsWith(`cluster=${l.cluster}`)),
      'each line from its own cluster',
    );
  });
});
