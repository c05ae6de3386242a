// The `meridian` command tree and its error handling (exit codes in options.ts).
import { Command, CommanderError, Option } from 'commander';
import { MeridianError, errorMessage } from '../kube/errors.ts';
import { registerAppCommands } from './app-commands.ts';
import { registerClusterCommands } from './cluster-commands.ts';
import { registerFleetCommands } from './fleet-commands.ts';
import { registerHubCommand } from './hub-command.ts';
import { registerTrafficCommands } from './traffic-commands.ts';
import { registerServicesCommands } from './services-commands.ts';
import { registerLogsCommands } from './logs-commands.ts';
import { registerDemoCommands } from './demo-commands.ts';
import { allCrdsYaml } from '../api/crd.ts';
import { EXIT } from './options.ts';
import { MERIDIAN_VERSION } from '../version.ts';

export function buildProgram(): Command {
  const program = new Command('meridian')
    .description(
      'Run one application across many Kubernetes clusters: deploy, global traffic, cross-cluster services, observability.',
    )
    .version(MERIDIAN_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.addOption(
    new Option('--hub-kubeconfig <file>', 'kubeconfig of the hub cluster').env('MERIDIAN_HUB_KUBECONFIG'),
  );
  program.option('--hub-context <name>', 'context in the hub kubeconfig');
  registerFleetCommands(program);
  registerHubCommand(program);
  registerClusterCommands(program);
  registerAppCommands(program);
  registerTrafficCommands(program);
  registerServicesCommands(program);
  registerLogsCommands(program);
  registerDemoCommands(program);
  program
    .command('crds')
    .description("print Meridian's CustomResourceDefinitions as YAML (for `kubectl apply -f -` or GitOps)")
    .action(() => {
      process.stdout.write(allCrdsYaml());
    });
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? EXIT.ok : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors were already printed.
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return EXIT.ok;
      return EXIT.usage;
    }
    if (e instanceof MeridianError) {
      process.stderr.write(`error: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`error: ${errorMessage(e)}\n`);
    return EXIT.failed;
  }
}
