// Kubeconfig files for the local fleet: one per cluster, and one merged file with a context per
// cluster (named after it) the way `kind get kubeconfig` serves kind users.
import { stringify } from 'yaml';

export interface KubeconfigEntry {
  readonly name: string;
  readonly server: string;
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly user?: string;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** Renders a kubeconfig with one cluster, user and context per entry; the first is current. */
export function renderKubeconfig(entries: readonly KubeconfigEntry[], current?: string): string {
  if (entries.length === 0) throw new Error('renderKubeconfig: no entries');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    'current-context': current ?? entries[0]!.name,
    clusters: entries.map((e) => ({
      name: e.name,
      cluster: { server: e.server, 'certificate-authority-data': b64(e.caPem) },
    })),
    users: entries.map((e) => ({
      name: e.user ?? `${e.name}-admin`,
      user: { 'client-certificate-data': b64(e.certPem), 'client-key-data': b64(e.keyPem) },
    })),
    contexts: entries.map((e) => ({
      name: e.name,
      context: { cluster: e.name, user: e.user ?? `${e.name}-admin` },
    })),
  });
}
