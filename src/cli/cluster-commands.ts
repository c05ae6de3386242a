// `meridian cluster join|list|rotate-credentials|remove`: the Cluster registry.
import { InvalidArgumentError, type Command } from 'commander';
import { stringify } from 'yaml';
import { API_VERSION } from '../api/group.ts';
import type { Cluster } from '../api/cluster.ts';
import { loadKubeConfig } from '../kube/cluster-client.ts';
import { findCondition } from '../kube/conditions.ts';
import { MeridianError } from '../kube/errors.ts';
import { joinCluster, removeCluster, rotateCredentials } from '../fleet/cluster-join.ts';
import { HUB_ACCESS_LABEL } from '../api/labels.ts';
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
    .description(
      "create the hub's least-privilege ServiceAccount in a member, store its token in a hub Secret and create the Cluster",
    )
    .argument('<name>', 'cluster name (a DNS label, e.g. eu-west)')
    .requiredOption(
      '--kubeconfig <file>',
      'kubeconfig that reaches the member as a user who may create RBAC (used once, never stored)',
    )
    .option('--context <name>', 'context in that kubeconfig (default: its current context)')
    .requiredOption('--region <region>', 'region of the member, e.g. eu-west')
    .option('--zone <zone>', 'zone of the member')
    .option('--ingress-address <ip...>', "address(es) where the member's ingress is reached from outside")
    .option('--ingress-port <port>', 'ingress port', intOption('--ingress-port', 1, 65535))
    .option(
      '--prometheus-url <url>',
      "the member's Prometheus-compatible HTTP API, e.g. http://prometheus.monitoring:9090 (fleet metrics)",
    )
    .option(
      '--namespaces <list>',
      'comma-separated namespaces the hub may deploy to (default: the whole cluster)',
      namespaceList,
    )
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
          namespaces?: string[];
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
          namespaces: opts.namespaces,
        });
        const where = opts.namespaces ? `namespaces ${opts.namespaces.join(', ')}` : 'the whole cluster';
        process.stdout.write(
          `cluster ${c.metadata.name} joined (region ${c.spec.region}); the hub acts there as ServiceAccount ` +
            `meridian-system/meridian-hub, deploying to ${where}; see \`meridian cluster list\`\n`,
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
    .command('rotate-credentials')
    .description(
      "issue a new token for the hub's ServiceAccount in a member, store it in the hub and revoke the old ones",
    )
    .argument('<name>', 'cluster name')
    .requiredOption(
      '--kubeconfig <file>',
      'kubeconfig that reaches the member as a user who may manage its Secrets',
    )
    .option('--context <name>', 'context in that kubeconfig (default: its current context)')
    .action(async (name: string, opts: { kubeconfig: string; context?: string }, cmd: Command) => {
      const kc = loadKubeConfig({ file: opts.kubeconfig }, opts.context);
      const hub = hubClient(cmd.optsWithGlobals<HubFlags>());
      const r = await rotateCredentials(hub, name, kc);
      const revoked = r.revoked.length > 0 ? `revoked ${r.revoked.join(', ')}` : 'no old token to revoke';
      process.stdout.write(
        `cluster ${name}: new token in Secret meridian-system/${r.token} stored in the hub; ${revoked}\n`,
      );
    });

  cluster
    .command('remove')
    .description(
      "unregister a cluster (deletes its Cluster and credentials Secret; with --kubeconfig also the hub's ServiceAccount, token and RBAC in the member)",
    )
    .argument('<name>', 'cluster name')
    .option('--kubeconfig <file>', "kubeconfig that reaches the member, to delete the hub's identity there")
    .option('--context <name>', 'context in that kubeconfig (default: its current context)')
    .action(async (name: string, opts: { kubeconfig?: string; context?: string }, cmd: Command) => {
      const kc = opts.kubeconfig ? loadKubeConfig({ file: opts.kubeconfig }, opts.context) : undefined;
      const hub = hubClient(cmd.optsWithGlobals<HubFlags>());
      const r = await removeCluster(hub, name, kc);
      if (r.member.done) {
        process.stdout.write(
          `cluster ${name}: deleted from the member: ${r.member.deleted.join(', ') || 'nothing (already gone)'}\n`,
        );
      } else {
        process.stderr.write(
          `cluster ${name}: the member was not cleaned up (${r.member.reason}). Left behind there: ServiceAccount ` +
            `meridian-system/meridian-hub, its token Secrets and the ClusterRoles/ClusterRoleBindings/Roles/RoleBindings ` +
            `labelled ${HUB_ACCESS_LABEL}=true; delete them with \`kubectl delete clusterrolebinding,clusterrole -l ` +
            `${HUB_ACCESS_LABEL}=true\` and \`kubectl delete rolebinding,role,secret,serviceaccount -A -l ${HUB_ACCESS_LABEL}=true\`\n`,
        );
      }
      if (!r.existed) throw new MeridianError('NotFound', `cluster ${name} does not exist in the hub`, 3);
      process.stdout.write(`cluster ${name} removed from the hub\n`);
    });
}

/** `a,b` → ['a', 'b'], each a DNS label. */
export function namespaceList(value: string): string[] {
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  const bad = names.find((n) => !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n));
  if (names.length === 0 || bad !== undefined)
    throw new InvalidArgumentError(
      `--namespaces: expected comma-separated namespace names, got "${bad ?? value}"`,
    );
  return names;
}
