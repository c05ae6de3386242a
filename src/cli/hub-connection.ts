// Which hub a CLI command talks to: --hub-kubeconfig/--hub-context, else MERIDIAN_HUB_KUBECONFIG,
// else the local fleet's kubeconfig (context `hub`), else the usual KUBECONFIG / ~/.kube/config.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ClusterClient, loadKubeConfig } from '../kube/cluster-client.ts';
import { MeridianError } from '../kube/errors.ts';
import { mergedKubeconfigPath } from '../localfleet/fleet.ts';

export interface HubFlags {
  readonly hubKubeconfig?: string;
  readonly hubContext?: string;
}

export function resolveHubKubeconfig(flags: HubFlags): { file: string; context?: string } {
  if (flags.hubKubeconfig) return { file: flags.hubKubeconfig, context: flags.hubContext };
  const env = process.env['MERIDIAN_HUB_KUBECONFIG'];
  if (env) return { file: env, context: flags.hubContext };
  const local = mergedKubeconfigPath();
  if (existsSync(local)) return { file: local, context: flags.hubContext ?? 'hub' };
  const kubeconfig = process.env['KUBECONFIG']?.split(':')[0] ?? join(homedir(), '.kube', 'config');
  if (existsSync(kubeconfig)) return { file: kubeconfig, context: flags.hubContext };
  throw new MeridianError(
    'NoHub',
    'no hub cluster configured: pass --hub-kubeconfig, set MERIDIAN_HUB_KUBECONFIG, or start the local fleet with `meridian fleet up`',
  );
}

export function hubClient(flags: HubFlags): ClusterClient {
  const src = resolveHubKubeconfig(flags);
  return new ClusterClient('hub', loadKubeConfig({ file: src.file }, src.context));
}
