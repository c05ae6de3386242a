// The identity the hub uses in a member cluster: a ServiceAccount in `meridian-system` and the RBAC
// that grants exactly what the hub's services do there. Pure: `renderMemberAccess` turns an access
// scope into the objects `meridian cluster join` applies, and `accessChecks` lists what the joining
// user must be allowed (SelfSubjectAccessReview) before anything is created.
//
// Deploying an Application can create anything, so the deploy part is broad, as in Argo CD: every
// verb on every resource cluster-wide by default, or (`--namespaces a,b`) a Role with every verb in
// each listed namespace plus the cluster-wide reads the other services' caches need. The other
// services get precise rules, one ClusterRole each, so `kubectl describe` shows who needs what.
import { HUB_ACCESS_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../api/labels.ts';
import { MCS_GROUP } from '../api/mcs.ts';
import type { KubeObject } from '../kube/cluster-client.ts';

/** The member namespace holding the hub's ServiceAccount and its token. */
export const MEMBER_NAMESPACE = 'meridian-system';
export const HUB_SERVICE_ACCOUNT = 'meridian-hub';

/** Where the hub may deploy: the whole cluster, or only these namespaces. */
export type AccessScope =
  { readonly kind: 'cluster' } | { readonly kind: 'namespaces'; readonly namespaces: readonly string[] };

export interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
  readonly verbs: readonly string[];
}

type Service = 'fleet' | 'mesh' | 'traffic' | 'observe';

const READ = ['get', 'list', 'watch'] as const;
const WRITE = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] as const;
const MCS_CRDS = [`serviceexports.${MCS_GROUP}`, `serviceimports.${MCS_GROUP}`];

/**
 * What each service does in a member (read from its controller), cluster-wide. `clusterScoped`
 * marks rules on cluster-scoped objects; the others are namespaced.
 */
const SERVICE_RULES: Readonly<Record<Service, readonly (PolicyRule & { clusterScoped?: true })[]>> = {
  // Health probes (/version, /readyz), discovery, and the Node watch behind status.nodeCount.
  fleet: [
    {
      nonResourceURLs: ['/version', '/readyz', '/livez', '/healthz', '/api', '/api/*', '/apis', '/apis/*'],
      verbs: ['get'],
      clusterScoped: true,
    },
    { apiGroups: [''], resources: ['nodes'], verbs: READ, clusterScoped: true },
  ],
  // MCS CRDs installed or merged into (names fixed; create cannot be limited by name), exports
  // watched and their status written, imports + derived Services + EndpointSlices written in the
  // importing clusters, and the namespaces the mesh creates there (and removes when it made them;
  // the emptiness check before that lists every kind, and refuses when a list is forbidden).
  mesh: [
    {
      apiGroups: ['apiextensions.k8s.io'],
      resources: ['customresourcedefinitions'],
      verbs: [...READ, 'create'],
      clusterScoped: true,
    },
    {
      apiGroups: ['apiextensions.k8s.io'],
      resources: ['customresourcedefinitions'],
      resourceNames: MCS_CRDS,
      verbs: ['update', 'patch'],
      clusterScoped: true,
    },
    { apiGroups: [''], resources: ['namespaces'], verbs: WRITE, clusterScoped: true },
    { apiGroups: [MCS_GROUP], resources: ['serviceexports'], verbs: READ },
    { apiGroups: [MCS_GROUP], resources: ['serviceexports/status'], verbs: ['get', 'update', 'patch'] },
    { apiGroups: [MCS_GROUP], resources: ['serviceimports'], verbs: WRITE },
    { apiGroups: [MCS_GROUP], resources: ['serviceimports/status'], verbs: ['get', 'update', 'patch'] },
    { apiGroups: [''], resources: ['services'], verbs: WRITE },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: WRITE },
    // Events on the ServiceImports it writes (why an import fails over).
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
  ],
  // A GlobalIngress's Ingress or HTTPRoute and the Services it derives from Deployments and
  // StatefulSets; its namespace is created when missing; EndpointSlices feed health checks.
  traffic: [
    { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: WRITE },
    { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: WRITE },
    { apiGroups: [''], resources: ['services'], verbs: WRITE },
    { apiGroups: ['apps'], resources: ['deployments', 'statefulsets'], verbs: READ },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: READ },
    { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'create', 'patch'], clusterScoped: true },
  ],
  // Pod logs, the pods and workloads behind the topology and trace attribution, ServiceImports.
  observe: [
    { apiGroups: [''], resources: ['pods'], verbs: READ },
    { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
    { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets'], verbs: READ },
    { apiGroups: [MCS_GROUP], resources: ['serviceimports'], verbs: READ },
  ],
};

/** The deploy part: an Application may hold any kind, so every verb on every resource. */
const ANYTHING: PolicyRule = { apiGroups: ['*'], resources: ['*'], verbs: ['*'] };

/**
 * A service's rules under `scope`. With namespaces, writes and subresources (status, logs) on
 * namespaced kinds come from the per-namespace deploy Role only, and namespaces are read, never
 * created or deleted: only the cluster-wide reads the caches need stay (never Secrets, which no
 * service reads cluster-wide), plus the MCS CRDs, which are cluster-scoped by nature.
 */
export function serviceRules(service: Service, scope: AccessScope): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const { clusterScoped, ...rule } of SERVICE_RULES[service]) {
    if (scope.kind === 'cluster') {
      out.push(rule);
      continue;
    }
    const isNamespaceRule = rule.resources?.includes('namespaces') === true;
    if (clusterScoped && !isNamespaceRule) {
      out.push(rule);
      continue;
    }
    if (rule.resources?.some((r) => r.includes('/'))) continue;
    const verbs = rule.verbs.filter((v) => (READ as readonly string[]).includes(v));
    if (verbs.length > 0) out.push({ ...rule, verbs });
  }
  return out;
}

const RBAC_VERSION = 'rbac.authorization.k8s.io/v1';
const SERVICES: readonly Service[] = ['fleet', 'mesh', 'traffic', 'observe'];

/** Labels on everything `join` creates in a member. */
export function accessLabels(): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, [HUB_ACCESS_LABEL]: 'true' };
}

const subject = { kind: 'ServiceAccount', name: HUB_SERVICE_ACCOUNT, namespace: MEMBER_NAMESPACE };

/** The ServiceAccount, namespaces and RBAC objects `join` applies in a member, in apply order. */
export function renderMemberAccess(scope: AccessScope): KubeObject[] {
  const labels = accessLabels();
  const objects: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: MEMBER_NAMESPACE, labels } },
  ];
  if (scope.kind === 'namespaces')
    for (const ns of scope.namespaces)
      objects.push({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
      });
  objects.push({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: HUB_SERVICE_ACCOUNT, namespace: MEMBER_NAMESPACE, labels },
  });
  const clusterRole = (name: string, rules: readonly PolicyRule[]): void => {
    objects.push(
      { apiVersion: RBAC_VERSION, kind: 'ClusterRole', metadata: { name, labels }, rules: [...rules] },
      {
        apiVersion: RBAC_VERSION,
        kind: 'ClusterRoleBinding',
        metadata: { name, labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
        subjects: [subject],
      },
    );
  };
  for (const s of SERVICES) clusterRole(`meridian-hub-${s}`, serviceRules(s, scope));
  if (scope.kind === 'cluster') clusterRole('meridian-hub-deploy', [ANYTHING]);
  else
    for (const ns of scope.namespaces) {
      const meta = { name: 'meridian-hub-deploy', namespace: ns, labels };
      objects.push(
        { apiVersion: RBAC_VERSION, kind: 'Role', metadata: meta, rules: [ANYTHING] },
        {
          apiVersion: RBAC_VERSION,
          kind: 'RoleBinding',
          metadata: meta,
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'meridian-hub-deploy' },
          subjects: [subject],
        },
      );
    }
  return objects;
}

/** One permission asked with a SelfSubjectAccessReview. */
export type AccessCheck =
  | {
      readonly verb: string;
      readonly group: string;
      readonly resource: string;
      readonly subresource?: string;
      readonly namespace?: string;
      readonly name?: string;
    }
  | { readonly verb: string; readonly path: string };

const PLURALS: Readonly<Record<string, readonly [string, string]>> = {
  Namespace: ['', 'namespaces'],
  ServiceAccount: ['', 'serviceaccounts'],
  ClusterRole: ['rbac.authorization.k8s.io', 'clusterroles'],
  ClusterRoleBinding: ['rbac.authorization.k8s.io', 'clusterrolebindings'],
  Role: ['rbac.authorization.k8s.io', 'roles'],
  RoleBinding: ['rbac.authorization.k8s.io', 'rolebindings'],
};

/**
 * What the joining user needs: to create and patch each object (server-side apply), to create
 * the token Secret in meridian-system, and to hold every permission it grants (RBAC refuses to
 * grant more than the granter has). Deduplicated, in a stable order.
 */
export function accessChecks(objects: readonly KubeObject[]): AccessCheck[] {
  const out = new Map<string, AccessCheck>();
  const add = (c: AccessCheck): void => void out.set(JSON.stringify(c), c);
  for (const o of objects) {
    const [group, resource] = PLURALS[o.kind] ?? ['', o.kind.toLowerCase()];
    const namespace = o.metadata.namespace;
    for (const verb of ['create', 'patch'])
      add({ verb, group, resource, ...(namespace ? { namespace } : {}) });
    for (const rule of (o['rules'] as PolicyRule[] | undefined) ?? []) {
      for (const verb of rule.verbs) {
        for (const path of rule.nonResourceURLs ?? []) add({ verb, path });
        for (const g of rule.apiGroups ?? [])
          for (const r of rule.resources ?? []) {
            const [res, sub] = r.split('/') as [string, string | undefined];
            const names = rule.resourceNames ?? [undefined];
            for (const name of names)
              add({
                verb,
                group: g,
                resource: res,
                ...(sub ? { subresource: sub } : {}),
                ...(namespace ? { namespace } : {}),
                ...(name ? { name } : {}),
              });
          }
      }
    }
  }
  for (const verb of ['create', 'get', 'list', 'delete'])
    add({ verb, group: '', resource: 'secrets', namespace: MEMBER_NAMESPACE });
  // A join with another scope than the last one removes the RBAC objects it no longer wants.
  for (const kind of ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'])
    for (const verb of ['list', 'delete'])
      add({ verb, group: PLURALS[kind]![0], resource: PLURALS[kind]![1] });
  return [...out.values()];
}

/** How an error names a check: `create clusterrolebindings.rbac.authorization.k8s.io (cluster-wide)`. */
export function describeCheck(c: AccessCheck): string {
  if ('path' in c) return `${c.verb} ${c.path} (non-resource URL)`;
  const res =
    c.resource === '*' && c.group === '*'
      ? 'every resource'
      : `${c.resource}${c.subresource ? `/${c.subresource}` : ''}${c.group ? `.${c.group}` : ''}`;
  const verb = c.verb === '*' ? 'use every verb on' : c.verb;
  const name = c.name ? ` named ${c.name}` : '';
  return `${verb} ${res}${name} ${c.namespace ? `in namespace ${c.namespace}` : '(cluster-wide)'}`;
}
