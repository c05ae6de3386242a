import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { consoleFile } from './console-assets.ts';

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
