// Which configuration the hub and the CLI use, in order: flags, MERIDIAN_HUB_KUBECONFIG, the local
// fleet, KUBECONFIG, the in-cluster configuration in a pod, ~/.kube/config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeridianError } from '../kube/errors.ts';
import { resolveHubSource, type HubFlags } from './hub-connection.ts';

const pod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
const resolve = (flags: HubFlags, env: NodeJS.ProcessEnv, files: readonly string[]) =>
  resolveHubSource(flags, env, (f) => files.includes(f), '/home/u/.meridian/fleet/kubeconfig', '/home/u');

test('a given kubeconfig wins over the in-cluster configuration', () => {
  assert.deepEqual(resolve({ hubKubeconfig: '/k', hubContext: 'c' }, pod, []), {
    kind: 'kubeconfig',
    file: '/k',
    context: 'c',
  });
  assert.deepEqual(resolve({}, { ...pod, MERIDIAN_HUB_KUBECONFIG: '/m' }, []), {
    kind: 'kubeconfig',
    file: '/m',
    context: undefined,
  });
  assert.deepEqual(resolve({}, { ...pod, KUBECONFIG: ':/a:/b' }, ['/a']), {
    kind: 'kubeconfig',
    file: '/a',
    context: undefined,
  });
});

test('the local fleet comes before KUBECONFIG, with its hub context', () => {
  assert.deepEqual(resolve({}, { KUBECONFIG: '/a' }, ['/a', '/home/u/.meridian/fleet/kubeconfig']), {
    kind: 'kubeconfig',
    file: '/home/u/.meridian/fleet/kubeconfig',
    context: 'hub',
  });
});

test('in a pod with no kubeconfig given, the in-cluster configuration, even beside ~/.kube/config', () => {
  assert.deepEqual(resolve({}, pod, ['/home/u/.kube/config']), { kind: 'in-cluster' });
  assert.deepEqual(resolve({}, { ...pod, KUBECONFIG: '/missing' }, []), { kind: 'in-cluster' });
});

test('outside a pod, ~/.kube/config; a context flag without a kubeconfig in a pod is refused', () => {
  assert.deepEqual(resolve({}, {}, ['/home/u/.kube/config']), {
    kind: 'kubeconfig',
    file: '/home/u/.kube/config',
    context: undefined,
  });
  assert.throws(() => resolve({ hubContext: 'x' }, pod, []), /--hub-context x: no kubeconfig/);
  assert.throws(
    () => resolve({}, {}, []),
    (e) => e instanceof MeridianError && e.code === 'NoHub' && /in-cluster configuration/.test(e.message),
  );
});
