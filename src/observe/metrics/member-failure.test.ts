import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failureAnswer, missingWarnings, partialResponse, refusalOf } from './member-failure.ts';

const envelope = (errorType: string, error: string): string =>
  JSON.stringify({ status: 'error', errorType, error });

test("a member's 400 bad_data and 422 execution are refusals of the query, with its own message", () => {
  assert.deepEqual(refusalOf(400, envelope('bad_data', '1:5: parse error: unexpected')), {
    errorType: 'bad_data',
    error: '1:5: parse error: unexpected',
  });
  const dup = 'vector cannot contain metrics with the same labelset';
  assert.deepEqual(refusalOf(422, envelope('execution', dup)), { errorType: 'execution', error: dup });
});

test('timeouts, 5xx, proxies and mismatched envelopes mean the member could not answer', () => {
  assert.equal(refusalOf(503, envelope('timeout', 'query timed out in expression evaluation')), undefined);
  assert.equal(refusalOf(503, envelope('canceled', 'query was canceled')), undefined);
  assert.equal(refusalOf(500, envelope('internal', 'storage error')), undefined);
  assert.equal(refusalOf(400, '<html>400 Bad Request</html>'), undefined);
  assert.equal(refusalOf(401, envelope('bad_data', 'who are you')), undefined);
  // A status that does not go with the type is not Prometheus talking.
  assert.equal(refusalOf(400, envelope('execution', 'x')), undefined);
  assert.equal(refusalOf(422, '"execution"'), undefined);
  assert.equal(refusalOf(422, JSON.stringify({ status: 'error', errorType: 'execution' })), undefined);
});

const none = new Map<string, never>();

test('a refusal from any member fails the whole answer with its type, status and message', () => {
  const a = failureAnswer(
    ['eu-west', 'us-east', 'ap-south'],
    {
      refused: new Map([['us-east', { errorType: 'execution', error: 'duplicate' }]]),
      failed: new Map([['ap-south', 'connection refused']]),
    },
    true,
  );
  assert.equal(a?.status, 422);
  assert.deepEqual(JSON.parse(a!.body), { status: 'error', errorType: 'execution', error: 'duplicate' });
});

test('of several refusals the first member in order answers, so a query always gets one text', () => {
  const refused = new Map([
    ['ap-south', { errorType: 'bad_data' as const, error: 'b' }],
    ['eu-west', { errorType: 'execution' as const, error: 'a' }],
  ]);
  const a = failureAnswer(['eu-west', 'us-east', 'ap-south'], { refused, failed: none }, true);
  assert.equal(a?.status, 422);
  assert.equal((JSON.parse(a!.body) as { error: string }).error, 'a');
});

test('members that could not answer are left out when partial answers are allowed, else 503', () => {
  const failed = new Map([['us-east', 'no answer within 10 s']]);
  assert.equal(failureAnswer(['eu-west', 'us-east'], { refused: none, failed }, true), undefined);
  const strict = failureAnswer(['eu-west', 'us-east'], { refused: none, failed }, false);
  assert.equal(strict?.status, 503);
  assert.deepEqual(JSON.parse(strict!.body), {
    status: 'error',
    errorType: 'unavailable',
    error:
      'partial response disabled and not every cluster answered: cluster "us-east": no answer within 10 s',
  });
  assert.deepEqual(missingWarnings(['eu-west', 'us-east'], failed), [
    'cluster "us-east" did not answer (no answer within 10 s); the result leaves out its series',
  ]);
});

test('when every member failed the answer is 503 whatever partial answers allow', () => {
  const failed = new Map([
    ['eu-west', 'HTTP 503: timeout'],
    ['us-east', 'connection refused'],
  ]);
  const a = failureAnswer(['eu-west', 'us-east'], { refused: none, failed }, true);
  assert.equal(a?.status, 503);
  assert.match(
    a!.body,
    /no cluster answered: cluster \\"eu-west\\": HTTP 503: timeout; cluster \\"us-east\\"/,
  );
  assert.equal(failureAnswer([], { refused: none, failed: none }, false), undefined);
});

test("partial_response reads Go's boolean spellings over the hub's default", () => {
  const p = (q: string, d: boolean) => partialResponse(new URLSearchParams(q), d);
  assert.equal(p('', true), true);
  assert.equal(p('', false), false);
  assert.equal(p('partial_response=', false), false);
  for (const t of ['1', 't', 'true', 'TRUE', 'True']) assert.equal(p(`partial_response=${t}`, false), true);
  for (const f of ['0', 'f', 'false', 'FALSE', 'False'])
    assert.equal(p(`partial_response=${f}`, true), false);
  assert.equal(p('partial_response=yes', true), undefined);
});
