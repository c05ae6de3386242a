import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseKubeYaml, resolvePlainScalar } from './manifest-yaml.ts';
import { parseManifestStream } from './render-manifests.ts';

const one = (text: string): unknown => parseKubeYaml(text)[0]?.toJS();

// Each case is a scalar YAML 1.2 (the `yaml` default) reads differently from kubectl (go-yaml v2).
describe('YAML 1.1 scalars, as kubectl reads them', () => {
  test('a leading-zero number is octal: defaultMode 0755 is 493', () => {
    assert.equal(resolvePlainScalar('0755'), 493);
    assert.equal(resolvePlainScalar('0644'), 420);
    assert.equal(resolvePlainScalar('-010'), -8);
    assert.equal(resolvePlainScalar('0'), 0);
  });

  test('0o, 0x and 0b prefixes, with a sign, are integers', () => {
    assert.equal(resolvePlainScalar('0o755'), 493);
    assert.equal(resolvePlainScalar('0x1F'), 31);
    assert.equal(resolvePlainScalar('-0x10'), -16);
    assert.equal(resolvePlainScalar('0b101'), 5);
    assert.equal(resolvePlainScalar('+12'), 12);
  });

  test('underscores in numbers are dropped: 1_000 is 1000', () => {
    assert.equal(resolvePlainScalar('1_000'), 1000);
    assert.equal(resolvePlainScalar('1_000.5'), 1000.5);
  });

  test('08 and 09 are not octal; they read as the float 8 and 9', () => {
    assert.equal(resolvePlainScalar('08'), 8);
    assert.equal(resolvePlainScalar('09'), 9);
  });

  test('yes/no/on/off/y/n in their three spellings are booleans', () => {
    for (const t of ['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'true', 'True', 'TRUE'])
      assert.equal(resolvePlainScalar(t), true, t);
    for (const f of ['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF', 'false', 'False', 'FALSE'])
      assert.equal(resolvePlainScalar(f), false, f);
    // Mixed case is text, as in go-yaml.
    assert.equal(resolvePlainScalar('yEs'), 'yEs');
  });

  test('base-60 numbers are text (go-yaml never supported them): 1:20 stays "1:20"', () => {
    assert.equal(resolvePlainScalar('1:20'), '1:20');
    assert.equal(resolvePlainScalar('190:20:30'), '190:20:30');
  });

  test('timestamps stay text', () => {
    assert.deepEqual(one('d: 2001-12-14\nt: 2001-12-14T21:59:43.10-05:00'), {
      d: '2001-12-14',
      t: '2001-12-14T21:59:43.10-05:00',
    });
  });

  test('null spellings, floats and text', () => {
    for (const n of ['', '~', 'null', 'Null', 'NULL']) assert.equal(resolvePlainScalar(n), null, n);
    assert.equal(resolvePlainScalar('.5'), 0.5);
    assert.equal(resolvePlainScalar('1e3'), 1000);
    assert.equal(resolvePlainScalar('-.inf'), -Infinity);
    assert.equal(resolvePlainScalar('1.2.3'), '1.2.3');
    assert.equal(resolvePlainScalar('-'), '-');
    assert.equal(resolvePlainScalar('0x'), '0x');
    assert.equal(resolvePlainScalar('v1'), 'v1');
  });

  test('quoted scalars are text; explicit tags are honoured', () => {
    assert.deepEqual(one(`a: "0755"\nb: '0755'\nc: !!int "0755"\nd: !!str 0755\ne: !!bool "yes"`), {
      a: '0755',
      b: '0755',
      c: 493,
      d: '0755',
      e: true,
    });
  });

  test('map keys are resolved too (a key y is "true", as in kubectl), and merge keys still merge', () => {
    assert.deepEqual(one('base: &b {x: 0700}\nm:\n  <<: *b\n  z: off\n  y: 1'), {
      base: { x: 448 },
      m: { x: 448, z: false, true: 1 },
    });
  });

  test('a rendered Secret volume keeps its mode as kubectl sends it', () => {
    const r = parseManifestStream(
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata: {name: p}',
        'spec:',
        '  containers: [{name: c, image: busybox}]',
        '  volumes:',
        '  - name: s',
        '    secret: {secretName: s, defaultMode: 0755, optional: yes}',
      ].join('\n'),
      { name: 'test' },
    );
    assert.ok(r.ok);
    const volumes = (r.objects[0]?.['spec'] as { volumes: { secret: unknown }[] }).volumes;
    assert.deepEqual(volumes[0]?.secret, { secretName: 's', defaultMode: 493, optional: true });
  });
});
