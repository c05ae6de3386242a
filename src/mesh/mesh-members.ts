// The mesh service's view of every connected member: the MCS CRDs installed there, and caches of
// its ServiceExports, ServiceImports, Services, EndpointSlices and Namespaces. Connections come
// and go with the fleet controller; a tick follows them. Every change is reported as the
// `namespace/name` of the service it concerns.
import { MCS_API_VERSION, MCS_VERSION, mcsCrds, type ServiceExport, type ServiceImport } from '../api/mcs.ts';
import type { MemberConnection, MemberConnections } from '../fleet/member-connections.ts';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { errorMessage } from '../kube/errors.ts';
import { waitForCrds } from '../kube/crds.ts';
import { sleep } from '../kube/sleep.ts';
import { Informer } from '../kube/informer.ts';
import type { Logger } from '../logging/logger.ts';
import { planCrd, type CrdObject } from './crd-merge.ts';
import { MCS_SERVICE_NAME_LABEL, SERVICE_NAME_LABEL } from './endpoint-plan.ts';

export interface ServiceObject extends KubeObject {
  spec?: {
    type?: string;
    clusterIP?: string;
    selector?: Record<string, string>;
    sessionAffinity?: string;
    ipFamilies?: string[];
    internalTrafficPolicy?: string;
    trafficDistribution?: string;
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
    ports?: {
      name?: string;
      protocol?: string;
      appProtocol?: string;
      port: number;
      targetPort?: number | string;
    }[];
  };
}

export interface EndpointSliceObject extends KubeObject {
  addressType?: string;
  endpoints?: {
    addresses: string[];
    conditions?: { ready?: boolean };
    hostname?: string;
    nodeName?: string;
    zone?: string;
    targetRef?: { kind: string; name: string; namespace?: string };
  }[];
  ports?: { name?: string; port?: number; protocol?: string; appProtocol?: string }[];
}

/** One member's caches; `synced` once every list has arrived. */
export interface MeshMember {
  readonly name: string;
  readonly client: ClusterClient;
  readonly exports: Informer<ServiceExport & KubeObject>;
  readonly imports: Informer<ServiceImport & KubeObject>;
  readonly services: Informer<ServiceObject>;
  readonly slices: Informer<EndpointSliceObject>;
  readonly namespaces: Informer<KubeObject>;
  synced: boolean;
  /** When the caches were started (ms since the epoch). */
  readonly since: number;
}

type ChangeHandler = (key: string) => void;

/** How the MCS CRDs stand in a member, for its Cluster's status. */
export interface CrdState {
  readonly ok: boolean;
  /** `Installed`, `ForeignCRDs` (another installer's, used or merged into), or `CRDInstallFailed`. */
  readonly reason: string;
  readonly message: string;
}

/** Installs (or merges into) the MCS CRDs of one member and waits until they are served. */
export async function installMcsCrds(client: ClusterClient): Promise<CrdState> {
  const messages: string[] = [];
  let foreign = false;
  const crds = mcsCrds() as CrdObject[];
  for (const ours of crds) {
    const live = await client.get<CrdObject>(
      'apiextensions.k8s.io/v1',
      'CustomResourceDefinition',
      ours.metadata.name,
    );
    const plan = planCrd(live, ours, MCS_VERSION);
    foreign ||= plan.foreign;
    messages.push(plan.message);
    if (!plan.write) continue;
    // A new CRD is Meridian's; an existing one is updated from what was read (a conflict retries).
    if (live) await client.replace(plan.write);
    else await client.apply(plan.write, { force: true });
  }
  await waitForCrds(client, crds);
  return { ok: true, reason: foreign ? 'ForeignCRDs' : 'Installed', message: messages.join('; ') };
}

export class MeshMembers {
  private readonly members = new Map<string, { conn: MemberConnection; member: MeshMember }>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Cuts the CRD install's retry waits short on stop. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly connections: MemberConnections,
    private readonly log: Logger,
    private readonly onChange: ChangeHandler,
    /** Called when a member's caches become usable or go away (re-plan everything). */
    private readonly onMembership: () => void,
    /** Called with the state of a member's MCS CRDs whenever it changes. */
    private readonly onCrdState: (cluster: string, state: CrdState) => void = () => {},
  ) {}

  start(): void {
    this.tick();
  }

  get(name: string): MeshMember | undefined {
    return this.members.get(name)?.member;
  }

  list(): MeshMember[] {
    return [...this.members.values()].map((m) => m.member);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([...this.members.keys()].map((n) => this.drop(n)));
  }

  private tick(): void {
    if (this.stopped) return;
    for (const name of this.connections.names()) {
      const conn = this.connections.get(name)!;
      const have = this.members.get(name);
      if (have?.conn === conn) continue;
      if (have) void this.drop(name);
      this.add(conn);
    }
    for (const name of [...this.members.keys()]) {
      if (!this.connections.get(name)) void this.drop(name);
    }
    this.timer = setTimeout(() => this.tick(), 1_000);
  }

  private add(conn: MemberConnection): void {
    const client = conn.client;
    const onError = (what: string) => (err: string, attempt: number) => {
      if (attempt === 1 || attempt % 20 === 0)
        this.log.warn({ cluster: conn.name, err, attempt }, `${what} watch failed; retrying`);
    };
    const member: MeshMember = {
      name: conn.name,
      client,
      exports: new Informer(client, MCS_API_VERSION, 'ServiceExport', { onError: onError('serviceexport') }),
      imports: new Informer(client, MCS_API_VERSION, 'ServiceImport', { onError: onError('serviceimport') }),
      services: new Informer(client, 'v1', 'Service', { onError: onError('service') }),
      slices: new Informer(client, 'discovery.k8s.io/v1', 'EndpointSlice', {
        onError: onError('endpointslice'),
      }),
      namespaces: new Informer(client, 'v1', 'Namespace', { onError: onError('namespace') }),
      synced: false,
      since: Date.now(),
    };
    this.members.set(conn.name, { conn, member });
    const byName = (o: KubeObject) => this.onChange(`${o.metadata.namespace}/${o.metadata.name}`);
    member.exports.on((_e, o) => byName(o));
    member.imports.on((_e, o) => byName(o));
    // A derived Service and Meridian's slices name the imported service in their MCS label.
    const imported = (o: KubeObject): string | undefined =>
      o.metadata.labels?.[MCS_SERVICE_NAME_LABEL] ?? o.metadata.labels?.[SERVICE_NAME_LABEL];
    member.services.on((_e, o) =>
      this.onChange(
        `${o.metadata.namespace}/${o.metadata.labels?.[MCS_SERVICE_NAME_LABEL] ?? o.metadata.name}`,
      ),
    );
    member.slices.on((_e, s) => {
      const svc = imported(s);
      if (svc) this.onChange(`${s.metadata.namespace}/${svc}`);
    });
    void this.install(member);
  }

  /**
   * Installs the MCS CRDs (merging with what is there), then starts the caches (the export/import
   * watches need the CRDs). Failures are retried with backoff up to a minute, and every change of
   * the outcome goes to the Cluster's status, so a member without cross-cluster services says why.
   */
  private async install(member: MeshMember): Promise<void> {
    let last = '';
    const report = (state: CrdState): void => {
      const key = `${state.ok} ${state.reason} ${state.message}`;
      if (key === last) return;
      last = key;
      this.onCrdState(member.name, state);
    };
    for (let attempt = 1; !this.stopped && this.get(member.name) === member; attempt++) {
      try {
        const state = await installMcsCrds(member.client);
        member.client.forgetDiscovery();
        report(state);
        if (state.reason === 'ForeignCRDs')
          this.log.info(
            { cluster: member.name, crds: state.message },
            'using MCS CRDs another installer put there',
          );
        break;
      } catch (e) {
        const err = errorMessage(e);
        report({ ok: false, reason: 'CRDInstallFailed', message: `installing the MCS CRDs failed: ${err}` });
        this.log.warn({ cluster: member.name, err, attempt }, 'installing MCS CRDs failed; retrying');
        await sleep(Math.min(60_000, 500 * 2 ** Math.min(attempt, 7)), this.stopping.signal);
      }
    }
    if (this.stopped || this.get(member.name) !== member) return;
    const all = [member.exports, member.imports, member.services, member.slices, member.namespaces];
    for (const inf of all) inf.start();
    await Promise.all(all.map((i) => i.waitForSync()));
    if (this.get(member.name) !== member) return;
    member.synced = true;
    this.log.info({ cluster: member.name }, 'mesh caches synced');
    this.onMembership();
  }

  private async drop(name: string): Promise<void> {
    const m = this.members.get(name);
    if (!m) return;
    this.members.delete(name);
    const { member } = m;
    await Promise.all(
      [member.exports, member.imports, member.services, member.slices, member.namespaces].map((i) =>
        i.stop(),
      ),
    );
    this.onMembership();
  }
}
