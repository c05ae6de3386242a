import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResumeCursor } from './log-resume.ts';

const t = (s: string): string => `2024-01-01T00:00:${s}Z`;

test('a resumed stream repeats the last second: repeats are dropped, new lines kept', () => {
  const c = new ResumeCursor();
  for (const [time, msg] of [
    [t('01.100000000'), 'a'],
    [t('02.100000000'), 'b'],
    [t('02.200000000'), 'c'],
  ] as const)
    assert.equal(c.accept(time, msg), true);
  assert.equal(c.sinceTime(), '2024-01-01T00:00:02Z');
  c.beginReplay();
  // The API answers from 00:00:02 on: b and c again, then what was written during the break.
  assert.equal(c.accept(t('02.100000000'), 'b'), false);
  assert.equal(c.accept(t('02.200000000'), 'c'), false);
  assert.equal(c.accept(t('02.300000000'), 'd'), true);
  assert.equal(c.accept(t('03.000000000'), 'e'), true);
  assert.equal(c.duplicatesDropped, 2);
});

test('identical lines in one instant are counted, not collapsed', () => {
  const c = new ResumeCursor();
  assert.equal(c.accept(t('05.000000000'), 'same'), true);
  assert.equal(c.accept(t('05.000000000'), 'same'), true);
  c.beginReplay();
  assert.equal(c.accept(t('05.000000000'), 'same'), false);
  assert.equal(c.accept(t('05.000000000'), 'same'), false);
  // A third one was written after the break: it is new.
  assert.equal(c.accept(t('05.000000000'), 'same'), true);
});

test('same time, different content is not a duplicate', () => {
  const c = new ResumeCursor();
  c.accept(t('05.000000000'), 'x');
  c.beginReplay();
  assert.equal(c.accept(t('05.000000000'), 'y'), true);
});

test('after the replayed second, nothing is treated as a repeat', () => {
  const c = new ResumeCursor();
  c.accept(t('05.000000000'), 'x');
  c.beginReplay();
  assert.equal(c.accept(t('06.000000000'), 'y'), true);
  // The same content at a later time is a new line even if it matched the old window.
  assert.equal(c.accept(t('06.500000000'), 'x'), true);
});

test('starts at the query’s since and drops older lines', () => {
  const c = new ResumeCursor(t('10.500000000'));
  assert.equal(c.sinceTime(), '2024-01-01T00:00:10Z');
  assert.equal(c.accept(t('10.100000000'), 'too old'), false);
  assert.equal(c.accept(t('10.500000000'), 'at since'), true);
  assert.equal(c.lastTime, t('10.500000000'));
});

test('a break before any line resumes from since', () => {
  const c = new ResumeCursor();
  assert.equal(c.sinceTime(), undefined);
  c.beginReplay();
  assert.equal(c.accept(t('01.000000000'), 'a'), true);
});
