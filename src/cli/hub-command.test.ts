import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { hubEnvName, registerHubCommand } from './hub-command.ts';

function hubCommand(): Command {
  const hub = new Command('hub').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerHubCommand(hub);
  return hub;
}

test('every option of meridian hub can come from MERIDIAN_HUB_<OPTION>, and --help names the variable', () => {
  const hub = hubCommand();
  assert.ok(hub.options.length > 20);
  for (const o of hub.options) assert.equal(o.envVar, hubEnvName(o.long!), o.long);
  assert.equal(hubEnvName('--dns-listen'), 'MERIDIAN_HUB_DNS_LISTEN');
  assert.match(hub.helpInformation(), /env:\s+MERIDIAN_HUB_DNS_LISTEN/);
});

test('a bad value from the environment is refused naming the option and the variable', async () => {
  process.env['MERIDIAN_HUB_LEASE_DURATION'] = 'abc';
  try {
    await assert.rejects(
      hubCommand().parseAsync([], { from: 'user' }),
      /option '--lease-duration <seconds>' value 'abc' from env 'MERIDIAN_HUB_LEASE_DURATION' is invalid/,
    );
  } finally {
    delete process.env['MERIDIAN_HUB_LEASE_DURATION'];
  }
});
