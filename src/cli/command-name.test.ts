import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command, Option } from 'commander';
import { commandNameIn } from './command-name.ts';

const options = new Command()
  .addOption(new Option('--hub-kubeconfig <file>'))
  .option('--hub-context <name>')
  .option('-v, --verbose')
  .option('--color [when]').options;

test('finds the command after global options and their values', () => {
  assert.equal(commandNameIn(['hub', '--listen', '1:2'], options), 'hub');
  assert.equal(commandNameIn(['--hub-kubeconfig', 'hub', 'fleet', 'up'], options), 'fleet');
  assert.equal(commandNameIn(['--hub-context=app', 'cluster', 'list'], options), 'cluster');
  assert.equal(commandNameIn(['-v', 'logs', '-l', 'a=b'], options), 'logs');
  assert.equal(commandNameIn(['--color', 'always', 'app'], options), 'app');
  assert.equal(commandNameIn(['--color', '--verbose', 'app'], options), 'app');
});

test('finds the command that help is asked about', () => {
  assert.equal(commandNameIn(['help', 'hub'], options), 'hub');
  assert.equal(commandNameIn(['help'], options), undefined);
});

test('finds no command in a bare --help, --version or an empty line', () => {
  assert.equal(commandNameIn([], options), undefined);
  assert.equal(commandNameIn(['--help'], options), undefined);
  assert.equal(commandNameIn(['--version'], options), undefined);
  assert.equal(commandNameIn(['--hub-context', 'hub'], options), undefined);
});
