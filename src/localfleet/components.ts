// The command lines of one local cluster's processes. Pure: layout and paths in, specs out, so the
// flags that make a real control plane run on loopback are unit-tested without starting anything.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BinaryName, BinaryPaths } from '../toolchain/binaries.ts';

/** kwok's Stages for the local fleet (node and pod lifecycles, faults on demand). */
// Beside this module in the sources and in the compiled build alike (the build copies them).
export const KWOK_STAGES = fileURLToPath(new URL('./kwok-stages.yaml', import.meta.url));
/** kwok's Logs and ClusterLogs CRDs (v0.8.0), installed before kwok starts: it watches them. */
export const KWOK_LOGS_CRDS = fileURLToPath(new URL('./kwok-logs-crds.yaml', import.meta.url));
import { PORTS, type ClusterLayout } from './layout.ts';
import { MeridianError } from '../kube/errors.ts';
import type { ProcessSpec } from './processes.ts';

/** Files of one cluster inside its directory. */
export function clusterFiles(dir: string) {
  const pki = join(dir, 'pki');
  return {
    dir,
    pki,
    caCert: join(pki, 'ca.crt'),
    caKey: join(pki, 'ca.key'),
    servingCert: join(pki, 'apiserver.crt'),
    servingKey: join(pki, 'apiserver.key'),
    saKey: join(pki, 'sa.key'),
    saPub: join(pki, 'sa.pub'),
    adminKubeconfig: join(dir, 'admin.kubeconfig'),
    controllerManagerKubeconfig: join(dir, 'controller-manager.kubeconfig'),
    schedulerKubeconfig: join(dir, 'scheduler.kubeconfig'),
    etcdData: join(dir, 'etcd-data'),
  } as const;
}
export type ClusterFiles = ReturnType<typeof clusterFiles>;

/** The order matters: etcd, then the API server, then everything that talks to it. */
export const COMPONENT_ORDER = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
] as const;
export type ComponentName = (typeof COMPONENT_ORDER)[number];

/**
 * Go runtime settings of every control-plane process, chosen by measurement (docs/benchmarks.md,
 * "fleet-up: idle cost"). The earlier `GOMEMLIMIT=100MiB GOGC=25` sat below the API servers' live
 * heap (~100 MB), so their collectors ran without pause: four idle control planes took ~1.8 of the
 * machine's 2 cores. With no limit, GC is rare at rest (no collection in 30 s on an idle member),
 * and GOGC=50 keeps each cluster under 300 MiB (PSS) at the same idle CPU as Go's default of 100,
 * which costs ~70 MiB more per cluster. Set explicitly (not left to the environment) so a user's
 * own GOGC or GOMEMLIMIT does not change the fleet behind our back.
 */
export const CONTROL_PLANE_GO_ENV: Readonly<Record<string, string>> = { GOGC: '50', GOMEMLIMIT: 'off' };

/**
 * `MERIDIAN_FLEET_GO_ENV="GOGC=50 GOMEMLIMIT=300MiB"` replaces those settings (for measuring
 * others, as `npm run bench fleet-idle` does). Only the two Go GC variables are accepted.
 */
export function controlPlaneGoEnv(override = process.env['MERIDIAN_FLEET_GO_ENV']): Record<string, string> {
  if (override === undefined || override.trim() === '') return { ...CONTROL_PLANE_GO_ENV };
  const env: Record<string, string> = { ...CONTROL_PLANE_GO_ENV };
  for (const pair of override.trim().split(/\s+/)) {
    const m = /^(GOGC|GOMEMLIMIT)=([A-Za-z0-9]+)$/.exec(pair);
    if (!m)
      throw new MeridianError(
        'InvalidArgument',
        `MERIDIAN_FLEET_GO_ENV: "${pair}" is not GOGC=<value> or GOMEMLIMIT=<value>`,
        2,
      );
    env[m[1]!] = m[2]!;
  }
  return env;
}

/**
 * The controllers each kube-controller-manager runs. Every controller wakes up on timers even with
 * nothing to do (each work queue ticks twice a second for its metrics), which is most of an idle
 * controller-manager's CPU (profiled: docs/benchmarks.md, "fleet-up: idle cost"), so each runs only
 * what its cluster uses. The hub holds Meridian's resources, Secrets and RBAC, and no workloads:
 * owner references (revisions owned by their Application), namespace deletion and service
 * accounts. A member runs what charts and the reference system use; it has no cloud, no pod CIDR
 * allocation (kwok hands out pod IPs), no volumes to attach, no kubelet certificates to sign.
 */
export function controllerManagerControllers(role: ClusterLayout['role']): string[] {
  if (role === 'hub')
    return [
      'garbage-collector-controller',
      'namespace-controller',
      'serviceaccount-controller',
      'root-ca-certificate-publisher-controller',
      'clusterrole-aggregation-controller',
    ];
  return [
    '*',
    ...[
      'node-ipam-controller',
      'cloud-node-lifecycle-controller',
      'service-lb-controller',
      'node-route-controller',
      'persistentvolume-attach-detach-controller',
      'persistentvolume-expander-controller',
      'ephemeral-volume-controller',
      'volumeattributesclass-protection-controller',
      'resourceclaim-controller',
      'device-taint-eviction-controller',
      'certificatesigningrequest-approving-controller',
      'certificatesigningrequest-cleaner-controller',
      'certificatesigningrequest-signing-controller',
      'podcertificaterequest-cleaner-controller',
      'kube-apiserver-serving-clustertrustbundle-publisher-controller',
      'legacy-serviceaccount-token-cleaner-controller',
      'storage-version-migrator-controller',
      'storageversion-garbage-collector-controller',
      'ttl-controller',
    ].map((name) => `-${name}`),
  ];
}

export function componentSpecs(
  c: ClusterLayout,
  files: ClusterFiles,
  bins: Pick<BinaryPaths, 'path'>,
): Record<ComponentName, ProcessSpec> {
  const a = c.address;
  const goEnv = controlPlaneGoEnv();
  const spec = (name: ComponentName, binary: BinaryName, args: string[], env = goEnv): ProcessSpec => ({
    name,
    binary: bins.path(binary),
    args,
    dir: files.dir,
    env,
  });
  const kubeconfigFlags = (kubeconfig: string): string[] => [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
  ];
  return {
    etcd: spec('etcd', 'etcd', [
      `--name=${c.name}`,
      `--data-dir=${files.etcdData}`,
      `--listen-client-urls=http://${a}:${PORTS.etcdClient}`,
      `--advertise-client-urls=http://${a}:${PORTS.etcdClient}`,
      `--listen-peer-urls=http://${a}:${PORTS.etcdPeer}`,
      `--initial-advertise-peer-urls=http://${a}:${PORTS.etcdPeer}`,
      `--initial-cluster=${c.name}=http://${a}:${PORTS.etcdPeer}`,
      // A throwaway local cluster: durability costs fsyncs the laptop pays for in latency.
      '--unsafe-no-fsync=true',
      '--quota-backend-bytes=2147483648',
      '--log-level=warn',
    ]),
    'kube-apiserver': spec('kube-apiserver', 'kube-apiserver', [
      `--etcd-servers=http://${a}:${PORTS.etcdClient}`,
      `--bind-address=${a}`,
      `--advertise-address=${a}`,
      `--secure-port=${PORTS.apiserver}`,
      `--tls-cert-file=${files.servingCert}`,
      `--tls-private-key-file=${files.servingKey}`,
      `--client-ca-file=${files.caCert}`,
      `--service-account-key-file=${files.saPub}`,
      `--service-account-signing-key-file=${files.saKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--authorization-mode=Node,RBAC',
      // The apiserver would publish its loopback address as the `kubernetes` Service endpoint,
      // which Endpoints validation rejects; nothing in the fleet needs that endpoint.
      '--endpoint-reconciler-type=none',
      '--allow-privileged=true',
      '--profiling=false',
      '--enable-priority-and-fairness=false',
      // `kubectl logs` goes through the API server to the node's kubelet endpoint: kwok's server,
      // at the Node's InternalIP (its hostname does not resolve) and daemonEndpoints port, serving
      // this cluster's certificate, so the connection is verified against the cluster CA.
      '--kubelet-preferred-address-types=InternalIP',
      `--kubelet-certificate-authority=${files.caCert}`,
    ]),
    'kube-controller-manager': spec('kube-controller-manager', 'kube-controller-manager', [
      ...kubeconfigFlags(files.controllerManagerKubeconfig),
      `--bind-address=${a}`,
      `--secure-port=${PORTS.controllerManager}`,
      '--leader-elect=false',
      `--root-ca-file=${files.caCert}`,
      `--service-account-private-key-file=${files.saKey}`,
      '--use-service-account-credentials=true',
      `--cluster-signing-cert-file=${files.caCert}`,
      `--cluster-signing-key-file=${files.caKey}`,
      `--controllers=${controllerManagerControllers(c.role).join(',')}`,
      '--profiling=false',
    ]),
    'kube-scheduler': spec('kube-scheduler', 'kube-scheduler', [
      ...kubeconfigFlags(files.schedulerKubeconfig),
      `--bind-address=${a}`,
      `--secure-port=${PORTS.scheduler}`,
      '--leader-elect=false',
      '--profiling=false',
    ]),
    kwok: spec('kwok', 'kwok', [
      `--kubeconfig=${files.adminKubeconfig}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      `--server-address=${a}:${PORTS.kwok}`,
      `--node-ip=${a}`,
      // Published as the Nodes' kubelet port (kwok-stages.yaml), so the API server finds the
      // server above for pod logs; it serves the API server's certificate (its SANs hold `a`).
      `--node-port=${PORTS.kwok}`,
      `--tls-cert-file=${files.servingCert}`,
      `--tls-private-key-file=${files.servingKey}`,
      // Pod logs come from Logs/ClusterLogs objects in the cluster (KWOK_LOGS_CRDS), so tests and
      // users can give pods log files at any time without restarting kwok.
      '--enable-crds=Logs,ClusterLogs',
      `--cidr=${c.podCidr}`,
      `--config=${KWOK_STAGES}`,
    ]),
  };
}

/** The fake Nodes of one cluster, labelled with its region and zones. */
export function fakeNodes(c: ClusterLayout): Record<string, unknown>[] {
  return Array.from({ length: c.nodes }, (_, i) => {
    const zone = c.zones[i % c.zones.length]!;
    const name = `${c.name}-node-${i}`;
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: {
          type: 'kwok',
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'topology.kubernetes.io/region': c.region,
          'topology.kubernetes.io/zone': zone,
          'meridian.dev/local-fleet': 'true',
        },
      },
      spec: {},
      status: {
        allocatable: { cpu: '32', memory: '256Gi', pods: '110', 'ephemeral-storage': '500Gi' },
        capacity: { cpu: '32', memory: '256Gi', pods: '110', 'ephemeral-storage': '500Gi' },
        nodeInfo: {
          architecture: 'amd64',
          operatingSystem: 'linux',
          kubeletVersion: 'kwok',
          kubeProxyVersion: 'kwok',
        },
      },
    };
  });
}
