// Waiting for a freshly started etcd or API server to answer, polling with a deadline and failing
// with what was last seen (and early, when the process itself has died).
import { ClusterClient, loadKubeConfig } from '../kube/cluster-client.ts';
import { errorMessage } from '../kube/errors.ts';
import type { ClusterFiles } from './components.ts';
import { PORTS } from './layout.ts';
import { sleep } from '../kube/sleep.ts';
import { dialFetch } from '../dial/dialer.ts';

/** Polls `probe` until it resolves true; `stillAlive` throws when the process has exited. */
export async function pollUntil(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  stillAlive: () => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    stillAlive();
    try {
      if (await probe()) return;
      last = 'not ready';
    } catch (e) {
      last = errorMessage(e);
    }
    if (Date.now() > deadline)
      throw new Error(`${what} not ready after ${timeoutMs / 1000} s (last: ${last})`);
    await sleep(200);
  }
}

export function waitForEtcd(address: string, timeoutMs: number, stillAlive: () => void): Promise<void> {
  return pollUntil(
    `etcd at ${address}:${PORTS.etcdClient}`,
    timeoutMs,
    async () => {
      const res = await dialFetch(`http://${address}:${PORTS.etcdClient}/health`, {
        signal: AbortSignal.timeout(2_000),
      });
      const body = (await res.json()) as { health?: string };
      return body.health === 'true';
    },
    stillAlive,
  );
}

export function waitForApiserver(
  files: ClusterFiles,
  address: string,
  timeoutMs: number,
  stillAlive: () => void,
): Promise<void> {
  const client = new ClusterClient('local', loadKubeConfig({ file: files.adminKubeconfig }));
  return pollUntil(
    `kube-apiserver at https://${address}:${PORTS.apiserver}`,
    timeoutMs,
    async () => (await client.rest.get<string>('/readyz', { timeoutMs: 2_000 })) === 'ok',
    stillAlive,
  );
}
