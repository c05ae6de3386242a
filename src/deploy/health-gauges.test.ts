import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gauge, Registry } from 'prom-client';
import { ApplicationHealthGauges } from './health-gauges.ts';

function setup(): { gauges: ApplicationHealthGauges; series: () => Promise<string[]> } {
  const registry = new Registry();
  const gauge = new Gauge({
    name: 'g',
    help: 'h',
    labelNames: ['namespace', 'application', 'cluster', 'region', 'revision'] as const,
    registers: [registry],
  });
  const series = async (): Promise<string[]> =>
    (await gauge.get()).values
      .map((v) => `${v.labels.application}@${v.labels.cluster}#${v.labels.revision}=${v.value}`)
      .sort();
  return { gauges: new ApplicationHealthGauges(gauge), series };
}

test('a new revision replaces the old series instead of adding one beside it', async () => {
  const { gauges, series } = setup();
  gauges.set('shop', 'app1', [
    { cluster: 'eu-west', region: 'eu', revision: 1, healthy: true },
    { cluster: 'us-east', region: 'us', revision: 1, healthy: true },
  ]);
  gauges.set('shop', 'app1', [
    { cluster: 'eu-west', region: 'eu', revision: 2, healthy: false },
    { cluster: 'us-east', region: 'us', revision: 1, healthy: true },
  ]);
  assert.deepEqual(await series(), ['app1@eu-west#2=0', 'app1@us-east#1=1']);
});

test('a cluster leaving and the Application being deleted remove their series, others stay', async () => {
  const { gauges, series } = setup();
  gauges.set('shop', 'app1', [
    { cluster: 'eu-west', region: 'eu', revision: 3, healthy: true },
    { cluster: 'us-east', region: 'us', revision: 3, healthy: true },
  ]);
  gauges.set('shop', 'app2', [{ cluster: 'eu-west', region: 'eu', revision: 1, healthy: true }]);
  gauges.set('shop', 'app1', [{ cluster: 'eu-west', region: 'eu', revision: 3, healthy: true }]);
  assert.deepEqual(await series(), ['app1@eu-west#3=1', 'app2@eu-west#1=1']);
  gauges.delete('shop', 'app1');
  assert.deepEqual(await series(), ['app2@eu-west#1=1']);
});
