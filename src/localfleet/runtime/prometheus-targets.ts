// What a member's Prometheus scrapes: the pod processes that ask for it with the customary
// annotations (`prometheus.io/scrape: "true"`, `prometheus.io/port`, `prometheus.io/path`,
// `prometheus.io/scheme`), at their loopback address, as Prometheus file_sd target groups labelled
// `namespace`, `pod` and `container` (what the kubernetes-pods job of the community charts keeps).
// And the Prometheus configuration that reads them. Pure.
import { isLoopbackHost } from '../../dial/dial-guard.ts';
import type { KubeObject } from '../../kube/cluster-client.ts';

export interface PodObject extends KubeObject {
  spec?: {
    containers?: readonly {
      name: string;
      ports?: readonly { containerPort: number; name?: string; protocol?: string }[];
    }[];
  };
  status?: { podIP?: string; phase?: string };
}

export interface TargetGroup {
  readonly targets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export const SCRAPE_ANNOTATION = 'prometheus.io/scrape';
export const PORT_ANNOTATION = 'prometheus.io/port';
export const PATH_ANNOTATION = 'prometheus.io/path';
export const SCHEME_ANNOTATION = 'prometheus.io/scheme';

/** The scrape target of one pod, or undefined when it does not ask or runs no process here. */
export function podTarget(
  pod: PodObject,
  loopbackFor: (podIp: string) => string | undefined,
): TargetGroup | undefined {
  const a = pod.metadata.annotations ?? {};
  if (a[SCRAPE_ANNOTATION] !== 'true' || pod.metadata.deletionTimestamp) return undefined;
  const ip = pod.status?.podIP;
  const host = ip ? loopbackFor(ip) : undefined;
  if (!host || !isLoopbackHost(host)) return undefined;
  const containers = pod.spec?.containers ?? [];
  const declared = containers.flatMap((c) =>
    (c.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP').map((p) => ({ c: c.name, port: p })),
  );
  const wanted = a[PORT_ANNOTATION];
  let port: number | undefined;
  if (wanted !== undefined) {
    port = /^\d{1,5}$/.test(wanted)
      ? Number(wanted)
      : declared.find((d) => d.port.name === wanted)?.port.containerPort;
  } else port = declared[0]?.port.containerPort;
  if (port === undefined || port < 1 || port > 65535) return undefined;
  const container = declared.find((d) => d.port.containerPort === port)?.c ?? containers[0]?.name;
  const path = a[PATH_ANNOTATION];
  const scheme = a[SCHEME_ANNOTATION];
  return {
    targets: [`${host}:${port}`],
    labels: {
      namespace: pod.metadata.namespace ?? 'default',
      pod: pod.metadata.name,
      ...(container ? { container } : {}),
      ...(path?.startsWith('/') ? { __metrics_path__: path } : {}),
      ...(scheme === 'https' ? { __scheme__: 'https' } : {}),
    },
  };
}

/** Every pod's target, in namespace/pod order. */
export function scrapeTargets(
  pods: readonly PodObject[],
  loopbackFor: (podIp: string) => string | undefined,
): TargetGroup[] {
  return pods
    .map((p) => podTarget(p, loopbackFor))
    .filter((t): t is TargetGroup => t !== undefined)
    .sort((x, y) => {
      const kx = `${x.labels['namespace']}/${x.labels['pod']}`;
      const ky = `${y.labels['namespace']}/${y.labels['pod']}`;
      return kx < ky ? -1 : kx > ky ? 1 : 0;
    });
}

/** The Prometheus configuration (YAML is a superset of JSON) reading `targetsFile`. */
export function prometheusConfig(targetsFile: string, scrapeIntervalSeconds: number): string {
  const interval = `${scrapeIntervalSeconds}s`;
  return `${JSON.stringify(
    {
      global: {
        scrape_interval: interval,
        scrape_timeout: `${Math.min(10, scrapeIntervalSeconds)}s`,
        evaluation_interval: interval,
      },
      scrape_configs: [
        {
          job_name: 'kubernetes-pods',
          file_sd_configs: [{ files: [targetsFile], refresh_interval: '30s' }],
        },
      ],
    },
    null,
    2,
  )}\n`;
}
