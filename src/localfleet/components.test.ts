import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONTROL_PLANE_GO_ENV, controlPlaneGoEnv, controllerManagerControllers } from './components.ts';

test('control planes get explicit Go GC settings, never the Go defaults of whoever runs fleet up', () => {
  assert.deepEqual(controlPlaneGoEnv(undefined), { ...CONTROL_PLANE_GO_ENV });
  assert.deepEqual(controlPlaneGoEnv('  '), { ...CONTROL_PLANE_GO_ENV });
  assert.ok(CONTROL_PLANE_GO_ENV['GOGC'] && CONTROL_PLANE_GO_ENV['GOMEMLIMIT']);
});

test('MERIDIAN_FLEET_GO_ENV replaces the GC settings it names and keeps the others', () => {
  assert.deepEqual(controlPlaneGoEnv('GOGC=50'), { ...CONTROL_PLANE_GO_ENV, GOGC: '50' });
  assert.deepEqual(controlPlaneGoEnv('GOGC=25  GOMEMLIMIT=100MiB'), { GOGC: '25', GOMEMLIMIT: '100MiB' });
});

test('MERIDIAN_FLEET_GO_ENV refuses anything but GOGC and GOMEMLIMIT, naming the pair', () => {
  assert.throws(() => controlPlaneGoEnv('GODEBUG=gctrace=1'), /MERIDIAN_FLEET_GO_ENV: "GODEBUG=gctrace=1"/);
  assert.throws(() => controlPlaneGoEnv('GOGC=50;rm'), /"GOGC=50;rm"/);
});

test('the hub runs only the controllers its resources need; members run the workload controllers', () => {
  const hub = controllerManagerControllers('hub');
  for (const c of ['garbage-collector-controller', 'namespace-controller', 'serviceaccount-controller'])
    assert.ok(hub.includes(c), `hub runs ${c}`);
  assert.ok(!hub.includes('*') && !hub.includes('deployment-controller'), 'hub runs no workload controllers');
  const member = controllerManagerControllers('member');
  assert.equal(member[0], '*', 'members start from every default controller');
  for (const c of ['node-ipam-controller', 'persistentvolume-attach-detach-controller'])
    assert.ok(member.includes(`-${c}`), `members do without ${c}`);
  for (const c of ['deployment', 'statefulset', 'job', 'endpointslice', 'garbage-collector', 'namespace'])
    assert.ok(!member.includes(`-${c}-controller`), `members keep ${c}-controller`);
});
