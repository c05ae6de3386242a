import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containerEnv, expandEnvRefs, fieldRefValue, serviceLinkEnv } from './container-env.ts';
import type { PodObject } from './pod-object.ts';

const pod = (
  containers: PodObject['spec']['containers'],
  extra: Partial<PodObject['spec']> = {},
): PodObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-0', namespace: 'shop', uid: 'u1', labels: { app: 'web' }, annotations: { a: 'b' } },
  spec: { containers, nodeName: 'eu-west-node-1', ...extra },
  status: { podIP: '10.101.0.7', hostIP: '127.77.0.2' },
});

const lookups = {
  configMap: (n: string) => (n === 'cfg' ? { MODE: 'fast', LEVEL: 'debug' } : undefined),
  secret: (n: string) => (n === 'db' ? { password: 's3cret' } : undefined),
};

test('service links: host, first port, named ports and the docker-link variables', () => {
  const env = serviceLinkEnv([
    {
      cluster: 'eu-west',
      namespace: 'shop',
      name: 'app-2',
      loopback: '127.77.66.3',
      ports: [
        { name: 'http', port: 80, protocol: 'TCP' },
        { name: 'grpc-api', port: 9090, protocol: 'TCP' },
      ],
    },
  ]);
  assert.equal(env['APP_2_SERVICE_HOST'], '127.77.66.3');
  assert.equal(env['APP_2_SERVICE_PORT'], '80');
  assert.equal(env['APP_2_SERVICE_PORT_HTTP'], '80');
  assert.equal(env['APP_2_SERVICE_PORT_GRPC_API'], '9090');
  assert.equal(env['APP_2_PORT'], 'tcp://127.77.66.3:80');
  assert.equal(env['APP_2_PORT_9090_TCP'], 'tcp://127.77.66.3:9090');
  assert.equal(env['APP_2_PORT_9090_TCP_PROTO'], 'tcp');
  assert.equal(env['APP_2_PORT_9090_TCP_PORT'], '9090');
  assert.equal(env['APP_2_PORT_9090_TCP_ADDR'], '127.77.66.3');
});

test('$(VAR) expands defined names, keeps unknown ones and $$ escapes', () => {
  const d = { A: 'x', B: 'y' };
  assert.equal(expandEnvRefs('$(A)-$(B)', d), 'x-y');
  assert.equal(expandEnvRefs('$(C) $$(A) $A', d), '$(C) $(A) $A');
  assert.equal(expandEnvRefs('tail $(A', d), 'tail $(A');
});

test('downward API fields', () => {
  const p = pod([]);
  assert.equal(fieldRefValue(p, 'metadata.name'), 'web-0');
  assert.equal(fieldRefValue(p, 'metadata.namespace'), 'shop');
  assert.equal(fieldRefValue(p, 'status.podIP'), '10.101.0.7');
  assert.equal(fieldRefValue(p, 'spec.nodeName'), 'eu-west-node-1');
  assert.equal(fieldRefValue(p, "metadata.labels['app']"), 'web');
  assert.equal(fieldRefValue(p, 'spec.bogus'), undefined);
});

test('env overrides envFrom, which overrides service links; refs resolve; $(VAR) sees earlier values', () => {
  const p = pod([
    {
      name: 'c',
      image: 'meridian.local/web',
      envFrom: [{ configMapRef: { name: 'cfg' } }, { prefix: 'S_', secretRef: { name: 'db' } }],
      env: [
        { name: 'MODE', value: 'slow' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
        { name: 'URL', value: 'http://$(POD_IP):80/$(LEVEL)' },
        { name: 'WEB_SERVICE_HOST', value: 'mine' },
      ],
    },
  ]);
  const svc = [
    {
      cluster: 'c',
      namespace: 'shop',
      name: 'web',
      loopback: '127.1.1.1',
      ports: [{ port: 80, protocol: 'TCP' }],
    },
  ];
  const r = containerEnv(p, p.spec.containers[0]!, lookups, svc);
  assert.ok(r.ok);
  assert.equal(r.env['MODE'], 'slow');
  assert.equal(r.env['LEVEL'], 'debug');
  assert.equal(r.env['S_password'], 's3cret');
  assert.equal(r.env['POD_NAME'], 'web-0');
  assert.equal(r.env['PW'], 's3cret');
  assert.equal(r.env['URL'], 'http://10.101.0.7:80/debug');
  assert.equal(r.env['WEB_SERVICE_HOST'], 'mine');
  assert.equal(r.env['WEB_SERVICE_PORT'], '80');
});

test('enableServiceLinks: false drops the service variables', () => {
  const p = pod([{ name: 'c', image: 'x' }], { enableServiceLinks: false });
  const svc = [
    {
      cluster: 'c',
      namespace: 'shop',
      name: 'web',
      loopback: '127.1.1.1',
      ports: [{ port: 80, protocol: 'TCP' }],
    },
  ];
  const r = containerEnv(p, p.spec.containers[0]!, lookups, svc);
  assert.ok(r.ok);
  assert.equal(r.env['WEB_SERVICE_HOST'], undefined);
});

test('a missing ConfigMap, Secret or key is an error unless optional', () => {
  const run = (env: PodObject['spec']['containers'][0]) => containerEnv(pod([env]), env, lookups, []);
  const missing = run({ name: 'c', image: 'x', envFrom: [{ configMapRef: { name: 'nope' } }] });
  assert.deepEqual(missing, { ok: false, error: 'configmap "nope" not found in namespace shop' });
  const key = run({
    name: 'c',
    image: 'x',
    env: [{ name: 'K', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'absent' } } }],
  });
  assert.deepEqual(key, { ok: false, error: "couldn't find key absent in configmap shop/cfg" });
  const optional = run({
    name: 'c',
    image: 'x',
    envFrom: [{ secretRef: { name: 'nope', optional: true } }],
    env: [{ name: 'K', valueFrom: { secretKeyRef: { name: 'nope', key: 'k', optional: true } } }],
  });
  assert.ok(optional.ok);
  assert.equal(optional.env['K'], undefined);
});
