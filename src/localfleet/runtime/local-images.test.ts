import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import {
  BUILTIN_IMAGE_FILE,
  containerArgv,
  parseLocalImages,
  resolveLocalImage,
  splitImage,
} from './local-images.ts';

const images = parseLocalImages(
  `
images:
  meridian.local/web:
    entrypoint: [node, server.js]
    cmd: [--port, "8080"]
    workingDir: test/fixtures
  meridian.local/web:2:
    entrypoint: [node, server2.js]
  meridian.local/db:
    builtin: postgres
    stopSignal: SIGINT
`,
  'test.yaml',
  '/repo',
);

test('an exact tag wins over the untagged entry, which matches every other tag and none', () => {
  assert.equal(resolveLocalImage(images, 'meridian.local/web:2')?.ref, 'meridian.local/web:2');
  assert.equal(resolveLocalImage(images, 'meridian.local/web:1')?.ref, 'meridian.local/web');
  assert.equal(resolveLocalImage(images, 'meridian.local/web')?.ref, 'meridian.local/web');
  assert.equal(resolveLocalImage(images, 'meridian.local/web:latest')?.ref, 'meridian.local/web');
  assert.equal(resolveLocalImage(images, 'meridian.local/other:1'), undefined);
  assert.equal(resolveLocalImage(images, 'docker.io/library/web:2'), undefined);
});

test('a tagged-only entry does not match another tag', () => {
  const only = parseLocalImages('images:\n  meridian.local/x:1:\n    entrypoint: [a]\n', 't', '/r');
  assert.equal(resolveLocalImage(only, 'meridian.local/x:1')?.ref, 'meridian.local/x:1');
  assert.equal(resolveLocalImage(only, 'meridian.local/x:2'), undefined);
  assert.equal(resolveLocalImage(only, 'meridian.local/x'), undefined);
});

test('splits name, tag and digest like a registry reference', () => {
  assert.deepEqual(splitImage('meridian.local/a:1'), { name: 'meridian.local/a', tag: '1' });
  assert.deepEqual(splitImage('localhost:5000/a'), { name: 'localhost:5000/a', tag: 'latest' });
  assert.deepEqual(splitImage('meridian.local/a:1@sha256:abc'), { name: 'meridian.local/a', tag: '1' });
});

test('resolves the working directory against the repository and keeps builtin settings', () => {
  const web = images.get('meridian.local/web')!;
  assert.equal(web.workingDir, '/repo/test/fixtures');
  assert.equal(web.stopSignal, 'SIGTERM');
  const db = images.get('meridian.local/db')!;
  assert.equal(db.builtin, 'postgres');
  assert.equal(db.stopSignal, 'SIGINT');
});

test('command replaces entrypoint and cmd, args replace cmd only', () => {
  const web = images.get('meridian.local/web')!;
  assert.deepEqual(containerArgv(web, undefined, undefined), ['node', 'server.js', '--port', '8080']);
  assert.deepEqual(containerArgv(web, undefined, ['--port', '9']), ['node', 'server.js', '--port', '9']);
  assert.deepEqual(containerArgv(web, ['sh', '-c'], undefined), ['sh', '-c']);
  assert.deepEqual(containerArgv(web, ['sh'], ['-c', 'x']), ['sh', '-c', 'x']);
});

test('rejects names outside meridian.local/, missing programs, escapes and unknown fields, naming the field', () => {
  const bad = (yaml: string, re: RegExp): void =>
    assert.throws(() => parseLocalImages(yaml, 'f.yaml', '/r'), re);
  bad(
    'images:\n  docker.io/web:1:\n    entrypoint: [a]\n',
    /f.yaml: images\["docker.io\/web:1"\]: local image names must start with meridian.local\//,
  );
  bad('images:\n  meridian.local/a:\n    cmd: [x]\n', /images\["meridian.local\/a"\].entrypoint: required/);
  bad(
    'images:\n  meridian.local/a:\n    entrypoint: [a]\n    workingDir: ../etc\n',
    /workingDir: must be relative/,
  );
  bad('images:\n  meridian.local/a:\n    entrypoint: [a]\n    entrypont: [b]\n', /entrypont: unknown field/);
  bad('images:\n  meridian.local/a:\n    builtin: mysql\n', /builtin: the only builtin is "postgres"/);
  bad('images:\n  meridian.local/a:\n    entrypoint: [a]\n    stopSignal: SIGSTOP\n', /stopSignal/);
});

test('the built-in registry parses and has the reference apps and postgres', () => {
  const builtin = parseLocalImages(readFileSync(BUILTIN_IMAGE_FILE, 'utf8'), BUILTIN_IMAGE_FILE);
  assert.ok(resolveLocalImage(builtin, 'meridian.local/app1:1'));
  assert.ok(resolveLocalImage(builtin, 'meridian.local/app2:1'));
  assert.equal(resolveLocalImage(builtin, 'meridian.local/postgres:15')?.builtin, 'postgres');
});
