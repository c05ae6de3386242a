// What a GlobalIngress needs in one member cluster: an Ingress (or an HTTPRoute where the member
// has the Gateway API), and a Service for each rule whose Service is missing there. Pure: the
// controller passes in what it saw in the member and applies the result.
import type { GlobalIngress } from '../../api/global-ingress.ts';
import type { KubeObject } from '../../kube/cluster-client.ts';
import { MANAGED_BY as MERIDIAN, MANAGED_BY_LABEL } from '../../api/labels.ts';

/** Label on every object generated for a GlobalIngress: `<namespace>.<name>`. */
export const GLOBAL_INGRESS_LABEL = 'meridian.dev/global-ingress';
export const MANAGED_BY = { [MANAGED_BY_LABEL]: MERIDIAN } as const;

/** The Gateway the generated HTTPRoutes attach to, in members that have the Gateway API. */
export const DEFAULT_GATEWAY = { namespace: 'meridian-system', name: 'meridian' } as const;

export interface MemberFacts {
  /** Namespace the app runs in, in this member. */
  readonly namespace: string;
  /** The member serves gateway.networking.k8s.io/v1 HTTPRoute. */
  readonly gatewayApi: boolean;
  /** Services that exist in the namespace and are not ours, by name. */
  readonly foreignServices: ReadonlySet<string>;
  /** Pod selectors of the Deployments/StatefulSets in the namespace, by workload name. */
  readonly workloadSelectors: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

export interface Generated {
  readonly objects: KubeObject[];
  /** Rules whose Service is missing with no workload to derive it from: reported, not fatal. */
  readonly warnings: string[];
}

export const globalIngressLabelValue = (gi: GlobalIngress): string =>
  `${gi.metadata.namespace}.${gi.metadata.name}`;

/** Paths in the order Ingress controllers and Gateways prefer: longest prefix first. */
function sortedRules(gi: GlobalIngress) {
  return [...gi.spec.rules].sort((a, b) => b.path.length - a.path.length || (a.path < b.path ? -1 : 1));
}

/** The objects `gi` needs in one member. */
export function generateMemberObjects(gi: GlobalIngress, facts: MemberFacts): Generated {
  const labels = { ...MANAGED_BY, [GLOBAL_INGRESS_LABEL]: globalIngressLabelValue(gi) };
  const meta = (name: string) => ({ name, namespace: facts.namespace, labels });
  const rules = sortedRules(gi);
  const objects: KubeObject[] = [];
  if (facts.gatewayApi) {
    objects.push({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: meta(gi.metadata.name),
      spec: {
        parentRefs: [{ name: DEFAULT_GATEWAY.name, namespace: DEFAULT_GATEWAY.namespace }],
        hostnames: [...gi.spec.hosts],
        rules: rules.map((r) => ({
          matches: [{ path: { type: 'PathPrefix', value: r.path } }],
          backendRefs: [{ name: r.service, port: r.port }],
        })),
      },
    });
  } else {
    objects.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: meta(gi.metadata.name),
      spec: {
        rules: gi.spec.hosts.map((host) => ({
          host,
          http: {
            paths: rules.map((r) => ({
              path: r.path,
              pathType: 'Prefix',
              backend: { service: { name: r.service, port: { number: r.port } } },
            })),
          },
        })),
      },
    });
  }
  const warnings: string[] = [];
  const services = new Map<string, number[]>();
  for (const r of rules) {
    if (facts.foreignServices.has(r.service)) continue;
    const ports = services.get(r.service) ?? [];
    if (!ports.includes(r.port)) ports.push(r.port);
    services.set(r.service, ports);
  }
  for (const [name, ports] of services) {
    const selector = facts.workloadSelectors.get(name);
    if (!selector) {
      warnings.push(
        `Service ${facts.namespace}/${name} does not exist and there is no Deployment or StatefulSet named ${name} to derive it from`,
      );
      continue;
    }
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(name),
      spec: {
        selector: { ...selector },
        ports: ports.map((p) => ({ name: `http-${p}`, port: p, targetPort: p, protocol: 'TCP' })),
      },
    });
  }
  return { objects, warnings };
}
