// The `meridian` command tree and its error handling (exit codes in options.ts).
//
// Startup time matters (`meridian --help` in ≤ 200 ms): the Kubernetes client, the hub and the
// local fleet take seconds of CPU to load. So the top-level commands are declared here by name and
// description only, and a command's module (its options, subcommands and everything its actions
// use) is imported only when the command line names it. `--help` and `version` load none of them.
import { Command, CommanderError, Option } from 'commander';
import { MeridianError, errorMessage } from '../kube/errors.ts';
import { EXIT } from './options.ts';
import { MERIDIAN_VERSION, MERIDIAN_BUILD } from '../version.ts';
import { commandNameIn } from './command-name.ts';

interface LazyCommand {
  readonly name: string;
  readonly description: string;
  /** Adds the command's options, subcommands and actions to the command declared here. */
  readonly load: () => Promise<(cmd: Command) => void>;
}

/** Every top-level command but the tiny ones defined inline below, in help order. */
export const LAZY_COMMANDS: readonly LazyCommand[] = [
  {
    name: 'fleet',
    description:
      'the local fleet: real Kubernetes clusters (etcd, kube-apiserver, controller-manager, scheduler, kwok) on loopback',
    load: async () => (await import('./fleet-commands.ts')).registerFleetCommands,
  },
  {
    name: 'hub',
    description:
      'run the controller manager against the hub cluster (CRDs, leader election, fleet controller, HTTP API)',
    load: async () => (await import('./hub-command.ts')).registerHubCommand,
  },
  {
    name: 'cluster',
    description: 'register member clusters in the hub and see their health',
    load: async () => (await import('./cluster-commands.ts')).registerClusterCommands,
  },
  {
    name: 'app',
    description: 'deploy applications to the fleet: apply, status, history, diff, rollback',
    load: async () => (await import('./app-commands.ts')).registerAppCommands,
  },
  {
    name: 'traffic',
    description: 'global traffic: per-cluster health behind a host, and draining clusters',
    load: async () => (await import('./traffic-commands.ts')).registerTrafficCommands,
  },
  {
    name: 'services',
    description:
      'cross-cluster services (MCS ServiceExport/ServiceImport): what is exported, where, and which endpoints each cluster uses',
    load: async () => (await import('./services-commands.ts')).registerServicesCommands,
  },
  {
    name: 'logs',
    description:
      'logs of the pods matching a selector in every selected cluster, merged in time order, each line prefixed with [cluster] namespace/pod/container',
    load: async () => (await import('./logs-commands.ts')).registerLogsCommands,
  },
  {
    name: 'demo',
    description:
      'the reference system on the local fleet: live shop traffic and failure scenarios (each undone by `demo recover …`)',
    load: async () => (await import('./demo-commands.ts')).registerDemoCommands,
  },
];

/**
 * The command tree for `argv`: every command declared, and fully defined (options, subcommands,
 * actions) only those named in `load` — all of them when `load` is 'all'.
 */
export async function buildProgram(load: 'all' | readonly string[] = 'all'): Promise<Command> {
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
  for (const c of LAZY_COMMANDS) {
    const cmd = program.command(c.name).description(c.description);
    if (load === 'all' || load.includes(c.name)) (await c.load())(cmd);
  }
  program
    .command('crds')
    .description("print Meridian's CustomResourceDefinitions as YAML (for `kubectl apply -f -` or GitOps)")
    .action(async () => {
      const { allCrdsYaml } = await import('../api/crd.ts');
      process.stdout.write(allCrdsYaml());
    });
  program
    .command('version')
    .description(
      'print the version of Meridian, how it runs (compiled or from source) and the Node.js version',
    )
    .action(() => {
      process.stdout.write(`meridian ${MERIDIAN_VERSION} (${MERIDIAN_BUILD}, node ${process.version})\n`);
    });
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const probe = await buildProgram([]);
    const name = commandNameIn(argv.slice(2), probe.options);
    const program = name ? await buildProgram([name]) : probe;
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
