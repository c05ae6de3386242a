// fleetLabelNames against stand-in member servers on loopback: app and revision are listed from
// the members' series with a pod, asked in the same round trip as the label names.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fleetLabelNames, type FleetMetadataContext } from './fleet-metadata.ts';
import { StandInMembers } from './member-fixtures.ts';
import type { MetricsMember } from './member-queries.ts';
import { loadPromqlEngine } from './promql-engine.ts';

const standIns = new StandInMembers();
let members: MetricsMember[];
let ctx: FleetMetadataContext;
/** Per member, what it was asked, in order: `labels` when asked, `labels answered`, `series`. */
const seen = new Map<string, string[]>();

/**
 * A member holding x{namespace="shop", pod} that holds its label names back until it has been
 * asked for its series too (or 1 s has passed): a hub asking one after the other waits 1 s.
 */
function member(name: string, pod: string): Promise<string> {
  const log: string[] = [];
  seen.set(name, log);
  let seriesAsked: () => void = () => {};
  const series = new Promise<void>((resolve) => (seriesAsked = resolve));
  return standIns.start((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const reply = (data: unknown) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ status: 'success', data }));
      };
      if (path === '/api/v1/series') {
        log.push('series');
        seriesAsked();
        reply([{ __name__: 'x', namespace: 'shop', pod }]);
      } else if (path === '/api/v1/labels') {
        log.push('labels');
        void Promise.race([series, new Promise((r) => setTimeout(r, 1000))]).then(() => {
          log.push('labels answered');
          reply(['__name__', 'namespace', 'pod']);
        });
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
  });
}

before(async () => {
  members = [
    { name: 'eu-west', region: 'eu', url: await member('eu-west', 'web-5d8f7c9b4-abcde') },
    { name: 'us-east', region: 'us', url: await member('us-east', 'db-0') },
  ];
  ctx = {
    engine: await loadPromqlEngine(),
    timeoutMs: 5000,
    partialResponse: true,
    workloadOf: (_cluster, namespace, pod) =>
      namespace === 'shop' && pod.startsWith('web-') ? { app: 'web', revision: '3' } : undefined,
  };
});

after(() => standIns.close());

test('label names include app and revision from series with a pod, asked in the same round trip', async () => {
  const a = await fleetLabelNames(ctx, members, { matchers: [] }, AbortSignal.timeout(10_000));
  assert.equal(a.status, 200, a.body);
  assert.deepEqual((JSON.parse(a.body) as { data: string[] }).data, [
    '__name__',
    'app',
    'cluster',
    'namespace',
    'pod',
    'region',
    'revision',
  ]);
  // Each member was asked for its series while its label names were still on their way. The two
  // requests travel on separate connections, so either may arrive first; asked one after the
  // other, the log would be labels, labels answered (after 1 s), series.
  for (const [name, log] of seen) {
    assert.deepEqual([...log.slice(0, 2)].sort(), ['labels', 'series'], `${name}: ${log.join(', ')}`);
    assert.deepEqual(log.slice(2), ['labels answered'], `${name}: ${log.join(', ')}`);
  }
});
