import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CONSOLE_PATH, consoleFile, serveConsole } from './console-assets.ts';

describe('consoleFile', () => {
  const root = '/srv/console';
  test('maps assets inside the build and the console routes to index.html', () => {
    assert.equal(consoleFile(root, '/console/assets/index-abc.js'), '/srv/console/assets/index-abc.js');
    assert.equal(consoleFile(root, '/console/'), '/srv/console/index.html');
    assert.equal(consoleFile(root, '/console/traces'), '/srv/console/index.html');
  });

  test('never leaves the build directory', () => {
    for (const p of [
      '/console/../secret.txt',
      '/console/%2e%2e/secret.txt',
      '/console/assets/..%2f..%2fetc%2fpasswd.txt',
      '/console/%E0%A4%A.js',
      '/console/a%00.js',
    ])
      assert.equal(consoleFile(root, p), undefined, p);
    assert.equal(consoleFile('/srv/console', '/console/../console-evil/x.js'), undefined);
  });
});

/** This process's open file descriptors that point at `file`. */
function openFds(file: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

describe('serveConsole', () => {
  test('closes the file when the client leaves before the whole answer', async () => {
    const root = mkdtempSync(join(tmpdir(), 'meridian-console-'));
    mkdirSync(join(root, 'assets'));
    const big = join(root, 'assets', 'big-0123.js');
    // Far more than the socket buffers hold: the answer is still being read when the client leaves.
    writeFileSync(big, Buffer.alloc(8 << 20, 0x61));
    writeFileSync(join(root, 'index.html'), '<!doctype html>');
    const server = http.createServer((req, res) => {
      void serveConsole(root, req, res, new URL(req.url ?? '/', 'http://hub').pathname);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const before = openFds(big);
      const N = 20;
      for (let i = 0; i < N; i++) {
        await new Promise<void>((resolve, reject) => {
          const s = connect(port, '127.0.0.1');
          s.on('error', reject);
          s.write(`GET ${CONSOLE_PATH}assets/big-0123.js HTTP/1.1\r\nHost: hub\r\n\r\n`);
          s.once('data', () => {
            s.destroy();
            resolve();
          });
        });
      }
      const deadline = Date.now() + 5_000;
      let open = openFds(big);
      while (open > before && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        open = openFds(big);
      }
      assert.equal(open, before, `${open - before} of ${N} aborted answers left the file open`);
      // A whole answer still arrives.
      const whole = await new Promise<number>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: `${CONSOLE_PATH}assets/big-0123.js` }, (res) => {
            let n = 0;
            res.on('data', (d: Buffer) => (n += d.length));
            res.on('end', () => resolve(n));
          })
          .on('error', reject);
      });
      assert.equal(whole, 8 << 20);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(root, { recursive: true, force: true });
    }
  });
});
