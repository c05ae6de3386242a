// What a member's CoreDNS needs to answer the KEP-1645 names of imported services
// (`<service>.<ns>.svc.clusterset.local`) the standard way: the `multicluster` plugin
// (github.com/coredns/multicluster) in the server block that serves cluster.local, and read access
// to ServiceImports (their `ips` answer ClusterSetIP names) and EndpointSlices (the MCS-labelled
// slices Meridian writes answer headless names). Pure: the CLI prints these, the user applies them.
import { isDnsLabel, isDnsSubdomain } from '../api/common.ts';
import { MCS_GROUP } from '../api/mcs.ts';
import type { KubeObject } from '../kube/cluster-client.ts';
import { MeridianError } from '../kube/errors.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../api/labels.ts';

export interface CorednsOptions {
  /** The cluster-set zone; KEP-1645 fixes it as clusterset.local, some fleets choose their own. */
  readonly zone: string;
  /** Namespace and name of CoreDNS's ServiceAccount (kube-system/coredns on most distributions). */
  readonly serviceAccount: { readonly namespace: string; readonly name: string };
}

export const DEFAULT_COREDNS_OPTIONS: CorednsOptions = {
  zone: 'clusterset.local',
  serviceAccount: { namespace: 'kube-system', name: 'coredns' },
};

/** A zone such as clusterset.local: lower-case DNS labels, at most 253 characters, no trailing dot. */
export function parseZone(zone: string): string {
  const z = zone.replace(/\.$/, '');
  if (!isDnsSubdomain(z) || !z.split('.').every(isDnsLabel))
    throw new MeridianError(
      'InvalidZone',
      `--zone: "${zone}" is not a DNS zone (lower-case labels of letters, digits and '-', separated by dots)`,
      2,
    );
  return z;
}

/** `namespace/name` of a ServiceAccount. */
export function parseServiceAccount(ref: string): CorednsOptions['serviceAccount'] {
  const [namespace, name, extra] = ref.split('/');
  if (!namespace || !name || extra !== undefined || !isDnsLabel(namespace) || !isDnsSubdomain(name))
    throw new MeridianError(
      'InvalidServiceAccount',
      `--service-account: "${ref}" is not namespace/name of a ServiceAccount (e.g. kube-system/coredns)`,
      2,
    );
  return { namespace, name };
}

const ROLE_NAME = 'meridian:coredns-multicluster';

/** A ClusterRole and its binding letting CoreDNS list and watch what the multicluster plugin reads. */
export function corednsRbac(opts: CorednsOptions): KubeObject[] {
  const labels = {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    'app.kubernetes.io/component': 'coredns-multicluster',
  };
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: ROLE_NAME, labels },
      rules: [
        { apiGroups: [MCS_GROUP], resources: ['serviceimports'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: ROLE_NAME, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: ROLE_NAME },
      subjects: [
        { kind: 'ServiceAccount', namespace: opts.serviceAccount.namespace, name: opts.serviceAccount.name },
      ],
    },
  ];
}

/**
 * The Corefile lines to add to the server block that already serves cluster.local (usually `.:53`),
 * before its `forward` line: the zone must be answered here, not sent upstream.
 */
export function corefileSnippet(opts: CorednsOptions): string {
  return [
    `# Meridian: answer ${opts.zone} names of imported services (KEP-1645) from ServiceImports`,
    `multicluster ${opts.zone}`,
    '',
  ].join('\n');
}
