import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  API_PARAMS,
  CLI_PARAMS,
  LogQueryError,
  parseDuration,
  parseLogQuery,
  selectClusters,
} from './log-query.ts';

const NOW = Date.UTC(2024, 0, 1, 12, 0, 0);

test('parses a full query with since as a duration', () => {
  const q = parseLogQuery(
    {
      selector: 'app=app2',
      namespace: 'shop',
      clusters: ['eu-west,us-east'],
      since: '10m',
      grep: 'err(or)?',
      limit: '50',
    },
    CLI_PARAMS,
    NOW,
  );
  assert.equal(q.selector, 'app=app2');
  assert.equal(q.namespace, 'shop');
  assert.deepEqual(q.clusters, ['eu-west', 'us-east']);
  assert.equal(q.since, '2024-01-01T11:50:00.000000000Z');
  assert.ok(q.grep?.test('an error'));
  assert.equal(q.limit, 50);
});

test('a since further back than 1970 reads everything instead of failing', () => {
  for (const since of ['99999999999h', '999999999999999999999999d'])
    assert.equal(
      parseLogQuery({ selector: 'a', since }, API_PARAMS, NOW).since,
      '1970-01-01T00:00:00.000000000Z',
    );
});

test('since also takes an RFC 3339 time', () => {
  assert.equal(
    parseLogQuery({ selector: 'a', since: '2024-01-01T10:00:00Z' }, CLI_PARAMS).since,
    '2024-01-01T10:00:00.000000000Z',
  );
});

test('durations combine units', () => {
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('10'), undefined);
  assert.equal(parseDuration('m10'), undefined);
});

const fails = (raw: Parameters<typeof parseLogQuery>[0], names = CLI_PARAMS): LogQueryError => {
  try {
    parseLogQuery(raw, names, NOW);
  } catch (e) {
    assert.ok(e instanceof LogQueryError);
    return e;
  }
  throw new Error('expected an error');
};

test('every bad input is an error naming its flag (CLI) or parameter (API)', () => {
  assert.match(fails({}).message, /^-l\/--selector: a label selector is required/);
  assert.match(fails({ selector: 'app==' + 'x'.repeat(70) }).message, /^-l\/--selector: label value/);
  assert.match(
    fails({ selector: 'a', since: 'yesterday' }).message,
    /^--since: "yesterday" is neither a duration/,
  );
  assert.match(fails({ selector: 'a', since: '0s' }).message, /^--since: .*longer than zero/);
  assert.match(fails({ selector: 'a', grep: '(' }).message, /^--grep: not a valid regular expression/);
  assert.match(fails({ selector: 'a', limit: '-3' }).message, /^--limit: must be a whole number/);
  assert.match(fails({ selector: 'a', namespace: 'Not_A_NS' }).message, /^-n\/--namespace:/);
  assert.match(
    fails({ selector: 'a', clusters: ['x'], allClusters: true }).message,
    /^--cluster: cannot be combined with --all-clusters/,
  );
  assert.match(fails({ selector: 'a', since: 'later' }, API_PARAMS).message, /^since: /);
  assert.equal(fails({ selector: 'a', grep: '[' }).exitCode, 2);
});

test('unknown clusters are named with the known ones', () => {
  const q = parseLogQuery({ selector: 'a', clusters: ['eu-west', 'eu-wst'] }, CLI_PARAMS);
  assert.throws(
    () => selectClusters(q, ['eu-west', 'us-east'], CLI_PARAMS),
    /--cluster: cluster "eu-wst" is not registered \(known: eu-west, us-east\)/,
  );
  assert.deepEqual(
    selectClusters(parseLogQuery({ selector: 'a' }, CLI_PARAMS), ['eu-west', 'us-east'], CLI_PARAMS),
    ['eu-west', 'us-east'],
  );
});
