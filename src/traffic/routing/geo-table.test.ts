import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MeridianError } from '../../kube/errors.ts';
import { EMPTY_GEO_TABLE, parseGeoTable, regionOf } from './geo-table.ts';

const TABLE = `
networks:
  - { cidr: 10.0.0.0/8, region: us-east }
  - { cidr: 10.1.2.0/24, region: ap-south }
  - { cidr: 10.1.0.0/16, region: eu-west }
  - { cidr: 2001:db8::/32, region: eu-west }
  - { cidr: 2001:db8:1::/48, region: us-east }
regions:
  eu-west: [us-east, eu-west, ap-south]
  ap-south: []
`;

test('the longest matching prefix wins, whatever the order in the file', () => {
  const t = parseGeoTable(TABLE);
  assert.equal(regionOf(t, '10.1.2.3'), 'ap-south');
  assert.equal(regionOf(t, '10.1.3.3'), 'eu-west');
  assert.equal(regionOf(t, '10.200.0.1'), 'us-east');
  assert.equal(regionOf(t, '2001:db8:1::5'), 'us-east');
  assert.equal(regionOf(t, '2001:db8:2::5'), 'eu-west');
});

test('addresses outside every network, of the other family, or not addresses map to no region', () => {
  const t = parseGeoTable(TABLE);
  assert.equal(regionOf(t, '192.0.2.1'), undefined);
  assert.equal(regionOf(t, '2001:db9::1'), undefined);
  assert.equal(regionOf(t, 'not-an-ip'), undefined);
  assert.equal(regionOf(t, ''), undefined);
  assert.equal(regionOf(EMPTY_GEO_TABLE, '10.1.2.3'), undefined);
});

test('an IPv4-mapped IPv6 peer (a dual-stack socket) matches the IPv4 networks', () => {
  assert.equal(regionOf(parseGeoTable(TABLE), '::ffff:10.1.2.3'), 'ap-south');
});

test('nearest regions start with the region itself, listed once', () => {
  const t = parseGeoTable(TABLE);
  assert.deepEqual(t.nearest.get('eu-west'), ['eu-west', 'us-east', 'ap-south']);
  assert.deepEqual(t.nearest.get('ap-south'), ['ap-south']);
  assert.equal(t.nearest.get('us-east'), undefined);
});

test('networks and regions are optional', () => {
  const t = parseGeoTable('{}');
  assert.deepEqual(t.networks, []);
  assert.equal(t.nearest.size, 0);
});

function rejects(text: string, message: RegExp): void {
  assert.throws(
    () => parseGeoTable(text),
    (e: unknown) => e instanceof MeridianError && e.code === 'InvalidGeoTable' && message.test(e.message),
  );
}

test('errors name the field that is wrong', () => {
  rejects('', /geo table: \(root\): must be a mapping/);
  rejects('- 10.0.0.0/8', /\(root\): must be a mapping/);
  rejects('networks: 10.0.0.0/8', /networks: must be a list/);
  rejects(
    'networks:\n  - { cidr: 10.0.0.0/8, region: a }\n  - { region: b }',
    /networks\[1\]\.cidr: required string/,
  );
  rejects(
    'networks:\n  - { cidr: 10.0.0.0/33, region: a }',
    /networks\[0\]\.cidr: "10\.0\.0\.0\/33" is not a CIDR/,
  );
  rejects('networks:\n  - { cidr: eu-west, region: a }', /networks\[0\]\.cidr: "eu-west" is not a CIDR/);
  rejects('networks:\n  - { cidr: 10.0.0.0/8 }', /networks\[0\]\.region: required string/);
  rejects('networks:\n  - { cidr: 10.0.0.0/8, region: "" }', /networks\[0\]\.region: required string/);
  rejects('regions: [eu-west]', /regions: must be a mapping/);
  rejects('regions:\n  eu-west: us-east', /regions\.eu-west: must be a list of region names/);
  rejects('regions:\n  eu-west: [1]', /regions\.eu-west: must be a list of region names/);
});
