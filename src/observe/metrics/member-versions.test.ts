import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { StandInMembers } from './member-fixtures.ts';
import { MemberVersions, buildinfoVersion } from './member-versions.ts';

const standIns = new StandInMembers();
after(() => standIns.close());

test('buildinfo answers are read for their version only', () => {
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  assert.equal(buildinfoVersion(enc({ status: 'success', data: { version: '2.42.0' } })), '2.42.0');
  assert.equal(buildinfoVersion(enc({ status: 'error', error: 'x' })), undefined);
  assert.equal(buildinfoVersion(enc({ status: 'success', data: { version: 3 } })), undefined);
  assert.equal(buildinfoVersion(new TextEncoder().encode('<html>')), undefined);
});

test("each member's version is asked once a minute, afresh when its URL changes", async () => {
  let asked = 0;
  let version = '2.42.0';
  const url = await standIns.start((req, res) => {
    asked++;
    assert.equal(req.url, '/api/v1/status/buildinfo');
    res.setHeader('content-type', 'application/json');
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
