import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SERVICE_HOSTS, planServiceAddresses } from './service-address-plan.ts';

test('a Service keeps its address; a new one takes the lowest free address', () => {
  const first = planServiceAddresses('127.9.64', new Map(), ['shop/b', 'shop/a']);
  assert.deepEqual(
    [...first.addresses],
    [
      ['shop/a', '127.9.64.1'],
      ['shop/b', '127.9.64.2'],
    ],
  );
  const second = planServiceAddresses('127.9.64', first.addresses, ['shop/b', 'shop/0', 'shop/c']);
  assert.deepEqual([...second.addresses].sort(), [
    ['shop/0', '127.9.64.1'],
    ['shop/b', '127.9.64.2'],
    ['shop/c', '127.9.64.3'],
  ]);
});

test('addresses of another prefix are not kept, and Services beyond the range are reported', () => {
  const keys = Array.from({ length: SERVICE_HOSTS + 2 }, (_, i) => `ns/s${String(i).padStart(3, '0')}`);
  const plan = planServiceAddresses('127.9.65', new Map([['ns/s000', '127.9.64.7']]), keys);
  assert.equal(plan.addresses.get('ns/s000'), '127.9.65.1');
  assert.equal(plan.addresses.size, SERVICE_HOSTS);
  assert.deepEqual(plan.unplaced, ['ns/s250', 'ns/s251']);
});
