import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { StandInMembers } from './member-fixtures.ts';
import { MemberVersions, buildinfoVersion, configExternalLabels } from './member-versions.ts';

const standIns = new StandInMembers();
after(() => standIns.close());

test('buildinfo answers are read for their version only', () => {
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  assert.equal(buildinfoVersion(enc({ status: 'success', data: { version: '2.42.0' } })), '2.42.0');
  assert.equal(buildinfoVersion(enc({ status: 'error', error: 'x' })), undefined);
  assert.equal(buildinfoVersion(enc({ status: 'success', data: { version: 3 } })), undefined);
  assert.equal(buildinfoVersion(new TextEncoder().encode('<html>')), undefined);
});

test('external labels are read from the config YAML, none when it has none or is unreadable', () => {
  const enc = (yaml: unknown) =>
    new TextEncoder().encode(JSON.stringify({ status: 'success', data: { yaml } }));
  assert.deepEqual(configExternalLabels(enc('global:\n  external_labels:\n    cluster: a\n')), [
    'cluster',
    'a',
  ]);
  assert.deepEqual(configExternalLabels(enc('global:\n  scrape_interval: 15s\n')), []);
  assert.deepEqual(configExternalLabels(enc('global: [')), []);
  assert.deepEqual(configExternalLabels(enc(7)), []);
});

test("each member's version is asked once a minute, afresh when its URL changes", async () => {
  let asked = 0;
  let version = '2.42.0';
  const url = await standIns.start((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/api/v1/status/config') {
      const yaml = 'global:\n  scrape_interval: 1m\n  external_labels:\n    replica: r1\n    dc: "x y"\n';
      res.end(JSON.stringify({ status: 'success', data: { yaml } }));
      return;
    }
    asked++;
    assert.equal(req.url, '/api/v1/status/buildinfo');
    res.end(JSON.stringify({ status: 'success', data: { version } }));
  });
  const missing = await standIns.start((_req, res) => {
    res.statusCode = 404;
    res.end('404 page not found');
  });
  let now = 1_000_000;
  const versions = new MemberVersions(() => now);
  const fleet = [
    { name: 'eu-west', region: 'eu', url },
    { name: 'us-east', region: 'us', url: missing },
  ];
  assert.deepEqual(
    [...(await versions.of(fleet))],
    [
      ['eu-west', '2.42.0'],
      ['us-east', undefined],
    ],
  );
  assert.deepEqual((await versions.facts(fleet)).get('eu-west')?.external, ['replica', 'r1', 'dc', 'x y']);
  assert.deepEqual((await versions.facts(fleet)).get('us-east')?.external, []);
  version = '3.5.0';
  now += 30_000;
  assert.equal((await versions.of(fleet)).get('eu-west'), '2.42.0');
  assert.equal(asked, 1);
  now += 31_000;
  assert.equal((await versions.of(fleet)).get('eu-west'), '3.5.0');
  assert.equal(asked, 2);
  const moved = [{ name: 'eu-west', region: 'eu', url: `${url}/` }];
  await versions.of(moved);
  assert.equal(asked, 3);
});
