// Which hub a CLI command (and the hub process) talks to: --hub-kubeconfig/--hub-context, else
// MERIDIAN_HUB_KUBECONFIG, else the local fleet's kubeconfig (context `hub`), else KUBECONFIG when
// set, else the in-cluster configuration when running in a pod, else ~/.kube/config — the order of
// controller-runtime's GetConfig with Meridian's own sources first.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ClusterClient, loadKubeConfig } from '../kube/cluster-client.ts';
import { MeridianError } from '../kube/errors.ts';
import { inClusterEnvironment, loadInClusterKubeConfig } from '../kube/in-cluster.ts';
import { mergedKubeconfigPath } from '../localfleet/fleet.ts';

export interface HubFlags {
  readonly hubKubeconfig?: string;
  readonly hubContext?: string;
}

export type HubSource =
  | { readonly kind: 'kubeconfig'; readonly file: string; readonly context?: string }
  | { readonly kind: 'in-cluster' };

/** Where the hub's configuration comes from; `env`, `home` and `exists` are the world to look at. */
export function resolveHubSource(
  flags: HubFlags,
  env: NodeJS.ProcessEnv = process.env,
  exists: (file: string) => boolean = existsSync,
  localFleetKubeconfig: string = mergedKubeconfigPath(),
  home: string = homedir(),
): HubSource {
  const kubeconfig = (file: string, context = flags.hubContext): HubSource => ({
    kind: 'kubeconfig',
    file,
    context,
  });
  if (flags.hubKubeconfig) return kubeconfig(flags.hubKubeconfig);
  const meridianEnv = env['MERIDIAN_HUB_KUBECONFIG'];
  if (meridianEnv) return kubeconfig(meridianEnv);
  if (exists(localFleetKubeconfig)) return kubeconfig(localFleetKubeconfig, flags.hubContext ?? 'hub');
  const kubeconfigEnv = env['KUBECONFIG']?.split(':').find((f) => f !== '');
  if (kubeconfigEnv && exists(kubeconfigEnv)) return kubeconfig(kubeconfigEnv);
  if (inClusterEnvironment(env)) {
    if (flags.hubContext) {
      throw new MeridianError(
        'NoHub',
        `--hub-context ${flags.hubContext}: no kubeconfig to choose it from (running in a pod, the hub uses the in-cluster configuration)`,
      );
    }
    return { kind: 'in-cluster' };
  }
  const defaultFile = join(home, '.kube', 'config');
  if (!kubeconfigEnv && exists(defaultFile)) return kubeconfig(defaultFile);
  throw new MeridianError(
    'NoHub',
    'no hub cluster configured: pass --hub-kubeconfig, set MERIDIAN_HUB_KUBECONFIG or KUBECONFIG, run in a pod (in-cluster configuration), or start the local fleet with `meridian fleet up`',
  );
}

export function hubClient(flags: HubFlags): ClusterClient {
  const src = resolveHubSource(flags);
  const kc =
    src.kind === 'in-cluster' ? loadInClusterKubeConfig() : loadKubeConfig({ file: src.file }, src.context);
  return new ClusterClient('hub', kc);
}
