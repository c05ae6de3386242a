import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podTarget, prometheusConfig, scrapeTargets, type PodObject } from './prometheus-targets.ts';

const pod = (
  name: string,
  annotations: Record<string, string>,
  ip = '10.101.0.5',
  extra: Partial<PodObject> = {},
): PodObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', annotations },
  spec: {
    containers: [
      { name: 'app', ports: [{ name: 'http', containerPort: 8080 }] },
      { name: 'sidecar', ports: [{ name: 'metrics', containerPort: 9100 }] },
    ],
  },
  status: { podIP: ip, phase: 'Running' },
  ...extra,
});
const map: Record<string, string> = {
  '10.101.0.5': '127.1.16.5',
  '10.101.0.6': '127.1.16.6',
  '10.101.0.7': '10.0.0.1',
};
const loopbackFor = (ip: string): string | undefined => map[ip];

test('an annotated pod process is scraped at its loopback address with namespace, pod and container', () => {
  assert.deepEqual(
    podTarget(
      pod('app2-x', {
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9100',
        'prometheus.io/path': '/stats',
      }),
      loopbackFor,
    ),
    {
      targets: ['127.1.16.5:9100'],
      labels: { namespace: 'shop', pod: 'app2-x', container: 'sidecar', __metrics_path__: '/stats' },
    },
  );
  // No port annotation: the first declared port; a named port works too.
  assert.deepEqual(podTarget(pod('a', { 'prometheus.io/scrape': 'true' }), loopbackFor)?.targets, [
    '127.1.16.5:8080',
  ]);
  assert.equal(
    podTarget(pod('a', { 'prometheus.io/scrape': 'true', 'prometheus.io/port': 'metrics' }), loopbackFor)
      ?.labels['container'],
    'sidecar',
  );
});

test('pods that do not ask, run no process, map off loopback or are going away are not scraped', () => {
  const pods = [
    pod('b', { 'prometheus.io/scrape': 'true' }, '10.101.0.6'),
    pod('no', { 'prometheus.io/scrape': 'false' }),
    pod('none', {}),
    pod('unmapped', { 'prometheus.io/scrape': 'true' }, '10.101.0.99'),
    pod('offloop', { 'prometheus.io/scrape': 'true' }, '10.101.0.7'),
    pod('bad-port', { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '99999' }),
    pod('gone', { 'prometheus.io/scrape': 'true' }, '10.101.0.5', {
      metadata: {
        name: 'gone',
        namespace: 'shop',
        deletionTimestamp: '2026-01-01T00:00:00Z',
        annotations: { 'prometheus.io/scrape': 'true' },
      },
    }),
    pod('a', { 'prometheus.io/scrape': 'true' }),
  ];
  assert.deepEqual(
    scrapeTargets(pods, loopbackFor).map((t) => t.labels['pod']),
    ['a', 'b'],
  );
});

test('the configuration reads the targets file through file_sd', () => {
  const c = JSON.parse(prometheusConfig('/f/targets.json', 1)) as {
    global: Record<string, string>;
    scrape_configs: { job_name: string; file_sd_configs: { files: string[] }[] }[];
  };
  assert.equal(c.global['scrape_interval'], '1s');
  assert.equal(c.global['scrape_timeout'], '1s');
  assert.deepEqual(c.scrape_configs[0]?.file_sd_configs[0]?.files, ['/f/targets.json']);
});
