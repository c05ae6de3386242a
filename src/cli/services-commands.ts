// `meridian services list | show ns/name`: the cluster set's exported services, read from every
// member through the credentials the hub holds (so it needs read access to them on the hub, like
// the hub itself). The mesh controller writes what each member uses, and why, on its ServiceImport.
import type { Command } from 'commander';
import { API_VERSION } from '../api/group.ts';
import type { Cluster } from '../api/cluster.ts';
import { MCS_API_VERSION, type ServiceExport, type ServiceImport } from '../api/mcs.ts';
import { CREDENTIALS_NAMESPACE } from '../fleet/cluster-controller.ts';
import { clientFromSecret, type SecretObject } from '../fleet/member-connections.ts';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { findCondition, type Condition } from '../kube/conditions.ts';
import { MeridianError, errorMessage } from '../kube/errors.ts';
import {
  LOCAL_READY_ANNOTATION,
  LOCALITY_ANNOTATION,
  REMOTE_READY_ANNOTATION,
} from '../mesh/member-apply.ts';
import { ACTIVE_GROUP_ANNOTATION, REASON_ANNOTATION } from '../api/labels.ts';
import { hubClient, type HubFlags } from './hub-connection.ts';
import { EXIT } from './options.ts';
import { printTable } from './table.ts';
import { stringify as stringifyYaml } from 'yaml';
import {
  corednsRbac,
  corefileSnippet,
  DEFAULT_COREDNS_OPTIONS,
  parseServiceAccount,
  parseZone,
} from '../mesh/coredns-config.ts';

type Export = ServiceExport & KubeObject;
type Import = ServiceImport & KubeObject;

interface MemberView {
  readonly cluster: string;
  readonly error?: string;
  readonly exports: Export[];
  readonly imports: Import[];
}

async function readMembers(cmd: Command, namespace?: string): Promise<MemberView[]> {
  const hub = hubClient(cmd.optsWithGlobals<HubFlags>());
  const clusters = (await hub.list<Cluster>(API_VERSION, 'Cluster')).items;
  return Promise.all(
    clusters.map(async (c): Promise<MemberView> => {
      const name = c.metadata.name;
      try {
        const ref = c.spec.kubeconfigSecretRef;
        const secret = await hub.get<SecretObject>(
          'v1',
          'Secret',
          ref.name,
          ref.namespace ?? CREDENTIALS_NAMESPACE,
        );
        if (!secret) return { cluster: name, error: 'credentials secret missing', exports: [], imports: [] };
        const client = clientFromSecret(c, secret);
        if ('error' in client) return { cluster: name, error: client.error, exports: [], imports: [] };
        const [exports, imports] = await Promise.all([
          list<Export>(client, 'ServiceExport', namespace),
          list<Import>(client, 'ServiceImport', namespace),
        ]);
        return { cluster: name, exports, imports };
      } catch (e) {
        return { cluster: name, error: errorMessage(e), exports: [], imports: [] };
      }
    }),
  );
}

async function list<T extends KubeObject>(
  client: ClusterClient,
  kind: string,
  namespace?: string,
): Promise<T[]> {
  if (!(await client.resourceInfo(MCS_API_VERSION, kind))) return [];
  return (await client.list<T>(MCS_API_VERSION, kind, { namespace, timeoutMs: 5_000 })).items;
}

const keyOf = (o: KubeObject): string => `${o.metadata.namespace}/${o.metadata.name}`;
const ports = (i: Import | undefined): string =>
  i?.spec.ports.map((p) => `${p.name ? `${p.name}:` : ''}${p.port}/${p.protocol ?? 'TCP'}`).join(',') ?? '-';

/** Adds the subcommands of `meridian services` (declared, with its description, in program.ts). */
export function registerServicesCommands(services: Command): void {
  services
    .command('coredns')
    .description(
      "what each member's CoreDNS needs to answer <service>.<ns>.svc.clusterset.local (KEP-1645): RBAC for the multicluster plugin and the Corefile line",
    )
    .option('--zone <zone>', 'the cluster-set zone', DEFAULT_COREDNS_OPTIONS.zone)
    .option(
      '--service-account <namespace/name>',
      "CoreDNS's ServiceAccount",
      `${DEFAULT_COREDNS_OPTIONS.serviceAccount.namespace}/${DEFAULT_COREDNS_OPTIONS.serviceAccount.name}`,
    )
    .option('--rbac', 'print only the RBAC manifest (pipe it to kubectl apply -f -)')
    .option('--corefile', 'print only the Corefile lines')
    .addHelpText(
      'after',
      `
CoreDNS serves clusterset.local with the multicluster plugin (github.com/coredns/multicluster),
an external plugin: build CoreDNS with "multicluster:github.com/coredns/multicluster" in plugin.cfg
(before "kubernetes"), or use a distribution that ships it. Then, in every member:
  meridian services coredns --rbac | kubectl --context MEMBER apply -f -
and add the Corefile lines to the server block that serves cluster.local (kubectl -n kube-system
edit configmap coredns), before its forward line. Meridian writes what the plugin reads: each
ServiceImport's ips (ClusterSetIP names) and EndpointSlices labelled
multicluster.kubernetes.io/service-name (headless names). See docs/clusterset-dns.md.`,
    )
    .action((opts: { zone: string; serviceAccount: string; rbac?: boolean; corefile?: boolean }) => {
      const o = { zone: parseZone(opts.zone), serviceAccount: parseServiceAccount(opts.serviceAccount) };
      const rbac = corednsRbac(o)
        .map((d) => stringifyYaml(d))
        .join('---\n');
      if (opts.rbac && !opts.corefile) return void process.stdout.write(rbac);
      if (opts.corefile && !opts.rbac) return void process.stdout.write(corefileSnippet(o));
      process.stdout.write(
        `# 1. In every member: kubectl --context MEMBER apply -f - with this manifest\n${rbac}` +
          `# 2. In every member's Corefile, in the server block that serves cluster.local, before forward:\n` +
          corefileSnippet(o)
            .split('\n')
            .map((l) => (l ? `#   ${l}` : l))
            .join('\n'),
      );
    });

  services
    .command('list')
    .description('exported services: type, ports, exporting clusters, conflicts')
    .option('-n, --namespace <ns>', 'only this namespace')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: { namespace?: string; output: string }, cmd: Command) => {
      const views = await readMembers(cmd, opts.namespace);
      const rows = new Map<string, { exportedBy: string[]; conflicts: string[]; imp?: Import }>();
      for (const v of views) {
        for (const e of v.exports) {
          const r = rows.get(keyOf(e)) ?? { exportedBy: [], conflicts: [] };
          r.exportedBy.push(v.cluster);
          const c = findCondition(e.status?.conditions as Condition[] | undefined, 'Conflict');
          if (c?.status === 'True') r.conflicts.push(`${v.cluster}: ${c.message}`);
          rows.set(keyOf(e), r);
        }
        for (const i of v.imports) {
          const r = rows.get(keyOf(i));
          if (r && !r.imp) r.imp = i;
        }
      }
      const items = [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
      if (opts.output === 'json') {
        const out = items.map(([k, r]) => ({
          service: k,
          type: r.imp?.spec.type,
          ports: r.imp?.spec.ports ?? [],
          exportedBy: r.exportedBy,
          conflicts: r.conflicts,
        }));
        process.stdout.write(
          `${JSON.stringify({ services: out, unreachable: views.filter((v) => v.error).map((v) => ({ cluster: v.cluster, error: v.error })) }, null, 2)}\n`,
        );
        return;
      }
      const table = [['NAMESPACE', 'NAME', 'TYPE', 'PORTS', 'EXPORTED BY', 'CONFLICTS']];
      for (const [k, r] of items) {
        const [ns, name] = k.split('/', 2) as [string, string];
        table.push([
          ns,
          name,
          r.imp?.spec.type ?? '-',
          ports(r.imp),
          r.exportedBy.join(','),
          r.conflicts.join('; ') || '-',
        ]);
      }
      printTable(table);
      for (const v of views)
        if (v.error) process.stderr.write(`warning: cluster ${v.cluster} not read: ${v.error}\n`);
    });

  services
    .command('show')
    .description(
      'per cluster: exported here, local ready, remote ready, which remote group is active and why',
    )
    .argument('<namespace/name>', 'the service')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (ref: string, opts: { output: string }, cmd: Command) => {
      const m = /^([a-z0-9-]+)\/([a-z0-9-]+)$/.exec(ref);
      if (!m) throw new MeridianError('InvalidArgument', `expected NAMESPACE/NAME, got "${ref}"`, EXIT.usage);
      const [, ns, name] = m as unknown as [string, string, string];
      const views = await readMembers(cmd, ns);
      const clusters = views.map((v) => {
        const exp = v.exports.find((e) => e.metadata.name === name);
        const imp = v.imports.find((i) => i.metadata.name === name);
        const a = imp?.metadata.annotations ?? {};
        const conds = (exp?.status?.conditions ?? []) as Condition[];
        return {
          cluster: v.cluster,
          exported: Boolean(exp),
          valid: findCondition(conds, 'Valid')?.status,
          conflict:
            findCondition(conds, 'Conflict')?.status === 'True'
              ? findCondition(conds, 'Conflict')?.message
              : undefined,
          imported: Boolean(imp),
          locality: a[LOCALITY_ANNOTATION],
          localReady: a[LOCAL_READY_ANNOTATION] === undefined ? undefined : Number(a[LOCAL_READY_ANNOTATION]),
          remoteReady:
            a[REMOTE_READY_ANNOTATION] === undefined ? undefined : Number(a[REMOTE_READY_ANNOTATION]),
          activeGroup: a[ACTIVE_GROUP_ANNOTATION],
          reason: a[REASON_ANNOTATION],
          clusterSetIP: imp?.spec.ips?.[0],
          error: v.error,
        };
      });
      if (!clusters.some((c) => c.exported || c.imported)) {
        throw new MeridianError(
          'NotFound',
          `service ${ns}/${name} is not exported in any cluster`,
          EXIT.notReady,
        );
      }
      if (opts.output === 'json') {
        process.stdout.write(`${JSON.stringify({ service: `${ns}/${name}`, clusters }, null, 2)}\n`);
        return;
      }
      const table = [
        ['CLUSTER', 'EXPORTED', 'IP', 'LOCALITY', 'LOCAL READY', 'REMOTE READY', 'ACTIVE', 'WHY'],
      ];
      for (const c of clusters) {
        table.push([
          c.cluster,
          c.exported ? (c.conflict ? 'yes (conflict)' : 'yes') : 'no',
          c.clusterSetIP ?? '-',
          c.locality ?? '-',
          c.localReady === undefined ? '-' : String(c.localReady),
          c.remoteReady === undefined ? '-' : String(c.remoteReady),
          c.activeGroup ?? '-',
          c.error ? `unreachable: ${c.error}` : (c.reason ?? '-'),
        ]);
      }
      printTable(table);
      for (const c of clusters)
        if (c.conflict) process.stdout.write(`conflict in ${c.cluster}: ${c.conflict}\n`);
    });
}
