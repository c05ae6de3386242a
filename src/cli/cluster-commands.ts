// `meridian cluster join|list|remove`: the Cluster registry.
import { InvalidArgumentError, type Command } from 'commander';
import { stringify } from 'yaml';
import { API_VERSION } from '../api/group.ts';
import type { Cluster } from '../api/cluster.ts';
import { loadKubeConfig } from '../kube/cluster-client.ts';
import { findCondition } from '../kube/conditions.ts';
import { MeridianError } from '../kube/errors.ts';
import { joinCluster, removeCluster } from '../fleet/cluster-join.ts';
import { age, printTable } from './table.ts';
import { hubClient, type HubFlags } from './hub-connection.ts';
import { intOption } from './options.ts';

export function clusterRows(items: readonly Cluster[]): string[][] {
  const rows = [['NAME', 'REGION', 'ZONE', 'READY', 'REASON', 'VERSION', 'NODES', 'LATENCY', 'AGE']];
  for (const c of items) {
    const r = findCondition(c.status?.conditions as never, 'Ready');
    rows.push([
      c.metadata.name,
      c.spec.region,
      c.spec.zone ?? '-',
      r?.status ?? 'Unknown',
      r?.reason ?? 'NotProbed',
      c.status?.kubernetesVersion ?? '-',
      c.status?.nodeCount === undefined ? '-' : String(c.status.nodeCount),
      c.status?.apiLatencyMs === undefined ? '-' : `${c.status.apiLatencyMs}ms`,
      age(c.metadata.creationTimestamp as string | undefined),
    ]);
  }
  return rows;
}

/** Adds the subcommands of `meridian cluster` (declared, with its description, in program.ts). */
export function registerClusterCommands(cluster: Command): void {
  cluster
    .command('join')
    .description("store a member's credentials in a hub Secret and create its Cluster")
    .argument('<name>', 'cluster name (a DNS label, e.g. eu-west)')
    .requiredOption('--kubeconfig <file>', 'kubeconfig that reaches the member')
    .option('--context <name>', 'context in that kubeconfig (default: its current context)')
    .requiredOption('--region <region>', 'region of the member, e.g. eu-west')
    .option('--zone <zone>', 'zone of the member')
    .option('--ingress-address <ip...>', "address(es) where the member's ingress is reached from outside")
    .option('--ingress-port <port>', 'ingress port', intOption('--ingress-port', 1, 65535))
    .option(
      '--prometheus-url <url>',
      "the member's Prometheus-compatible HTTP API, e.g. http://prometheus.monitoring:9090 (fleet metrics)",
    )
    .option('--no-verify', 'register even if the member does not answer now')
    .action(
      async (
        name: string,
        opts: {
          kubeconfig: string;
          context?: string;
          region: string;
          zone?: string;
          ingressAddress?: string[];
          ingressPort?: number;
          prometheusUrl?: string;
          verify: boolean;
        },
        cmd: Command,
      ) => {
        if (opts.ingressPort !== undefined && !opts.ingressAddress) {
          throw new InvalidArgumentError('--ingress-port needs --ingress-address');
        }
        const kc = loadKubeConfig({ file: opts.kubeconfig }, opts.context);
        const hub = hubClient(cmd.optsWithGlobals<HubFlags>());
        const c = await joinCluster(hub, {
          name,
          kubeConfig: kc,
          context: opts.context,
          region: opts.region,
          zone: opts.zone,
          ingress: opts.ingressAddress
            ? { addresses: opts.ingressAddress, port: opts.ingressPort }
            : undefined,
          prometheusURL: opts.prometheusUrl,
          verify: opts.verify,
        });
        process.stdout.write(
          `cluster ${c.metadata.name} joined (region ${c.spec.region}); see \`meridian cluster list\`\n`,
        );
      },
    );

  cluster
    .command('list')
    .description('show every registered cluster with its Ready condition, version, nodes and API latency')
    .option('-o, --output <format>', 'table, json or yaml', 'table')
    .action(async (opts: { output: string }, cmd: Command) => {
      if (!['table', 'json', 'yaml'].includes(opts.output)) {
        throw new MeridianError(
          'InvalidArgument',
          `--output: must be table, json or yaml, got "${opts.output}"`,
          2,
        );
      }
      const hub = hubClient(cmd.optsWithGlobals<HubFlags>());
      const list = await hub.list<Cluster>(API_VERSION, 'Cluster', { timeoutMs: 10_000 });
      const items = list.items.map((c) => ({ ...c, metadata: { ...c.metadata, managedFields: undefined } }));
      if (opts.output === 'json') process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      else if (opts.output === 'yaml') process.stdout.write(stringify(items));
      else if (items.length === 0)
        process.stdout.write('no clusters registered (add one with `meridian cluster join`)\n');
      else printTable(clusterRows(items));
    });

  cluster
    .command('remove')
    .description(
      'unregister a cluster (deletes its Cluster and credentials Secret; nothing in the member is touched)',
    )
    .argument('<name>', 'cluster name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const hub = hubClient(cmd.optsWithGlobals<HubFlags>());
      if (!(await removeCluster(hub, name))) {
        throw new MeridianError('NotFound', `cluster ${name} does not exist`, 3);
      }
      process.stdout.write(`cluster ${name} removed\n`);
    });
}
