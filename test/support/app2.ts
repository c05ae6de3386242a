// The reference system's APP 2 as the mesh tests and benchmark deploy it in a member: namespace
// shop, a Deployment with a named port, its Service, and (separately) its ServiceExport.

/**
 * Namespace, Deployment and Service of app2 (Service port `port`, target the named port `http`),
 * its pods carrying `podAnnotations`.
 */
export function app2Workload(
  replicas: number,
  port = 8080,
  podAnnotations: Readonly<Record<string, string>> = {},
): object[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'app2', namespace: 'shop' },
      spec: {
        replicas,
        selector: { matchLabels: { app: 'app2' } },
        template: {
          metadata: { labels: { app: 'app2' }, annotations: { ...podAnnotations } },
          spec: {
            containers: [
              { name: 'app2', image: 'example/app2:1', ports: [{ name: 'http', containerPort: 8080 }] },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'app2', namespace: 'shop' },
      spec: { selector: { app: 'app2' }, ports: [{ name: 'http', port, targetPort: 'http' }] },
    },
  ];
}

/** The ServiceExport of shop/app2. */
export const app2Export = {
  apiVersion: 'multicluster.x-k8s.io/v1alpha1',
  kind: 'ServiceExport',
  metadata: { name: 'app2', namespace: 'shop' },
} as const;
