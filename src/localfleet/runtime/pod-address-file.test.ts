import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  readPodAddressFile,
  watchPodAddressFile,
  writePodAddressFile,
  type PodAddressRow,
} from './pod-address-file.ts';

const row = (pod: string, podIp: string, loopback: string): PodAddressRow => ({
  cluster: 'eu-west',
  namespace: 'shop',
  pod,
  podIp,
  loopback,
  ports: [8080],
  ready: true,
  restarts: 0,
  image: 'meridian.local/app1:1',
});

test('a consumer in another process sees the published map and its changes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pod-addresses-'));
  try {
    assert.equal(readPodAddressFile(dir), undefined);
    writePodAddressFile(dir, [row('a', '10.101.0.5', '127.77.17.1')]);
    const map = watchPodAddressFile(dir, 20);
    assert.equal(map.loopbackFor('10.101.0.5'), '127.77.17.1');
    // The watch does not keep a process alive by itself; this test waits on it.
    const alive = setTimeout(() => undefined, 5_000);
    const changed = new Promise<void>((resolve) => map.onChange(resolve));
    // The mtime must move for the poll to notice; a second write a moment later does.
    await new Promise((r) => setTimeout(r, 50));
    writePodAddressFile(dir, [row('b', '10.101.0.6', '127.77.17.2')]);
    await changed;
    clearTimeout(alive);
    assert.equal(map.loopbackFor('10.101.0.5'), undefined);
    assert.equal(map.loopbackFor('10.101.0.6'), '127.77.17.2');
    assert.deepEqual(
      map.list().map((r) => r.pod),
      ['b'],
    );
    map.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
