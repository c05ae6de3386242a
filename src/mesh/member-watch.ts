// The mesh service's view of every connected member: the MCS CRDs installed there, and caches of
// its ServiceExports, ServiceImports, Services, EndpointSlices and Namespaces. Connections come
// and go with the fleet controller; a tick follows them. Every change is reported as the
// `namespace/name` of the service it concerns.
import { MCS_API_VERSION, mcsCrds, type ServiceExport, type ServiceImport } from '../api/mcs.ts';
import type { MemberConnection, MemberConnections } from '../fleet/member-connections.ts';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { errorMessage } from '../kube/errors.ts';
import { applyCrds } from '../kube/crds.ts';
import { Informer } from '../kube/informer.ts';
import type { Logger } from '../logging/logger.ts';
import { MCS_SERVICE_NAME_LABEL, SERVICE_NAME_LABEL } from './endpoint-plan.ts';

export interface ServiceObject extends KubeObject {
  spec?: {
    type?: string;
    clusterIP?: string;
    selector?: Record<string, string>;
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
    nodeName?: string;
    zone?: string;
    targetRef?: { kind: string; name: string; namespace?: string };
  }[];
  ports?: { name?: string; port?: number; protocol?: string }[];
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

export class MeshMembers {
  private readonly members = new Map<string, { conn: MemberConnection; member: MeshMember }>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly connections: MemberConnections,
    private readonly log: Logger,
    private readonly onChange: ChangeHandler,
    /** Called when a member's caches become usable or go away (re-plan everything). */
    private readonly onMembership: () => void,
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
    member.services.on((_e, o) => byName(o));
    member.slices.on((_e, s) => {
      const svc = s.metadata.labels?.[SERVICE_NAME_LABEL] ?? s.metadata.labels?.[MCS_SERVICE_NAME_LABEL];
      if (svc) this.onChange(`${s.metadata.namespace}/${svc}`);
    });
    void this.install(member);
  }

  /** Installs the MCS CRDs, then starts the caches (the export/import watches need the CRDs). */
  private async install(member: MeshMember): Promise<void> {
    for (let attempt = 1; !this.stopped && this.get(member.name) === member; attempt++) {
      try {
        await applyCrds(member.client, mcsCrds());
        member.client.forgetDiscovery();
        break;
      } catch (e) {
        if (attempt === 1 || attempt % 10 === 0)
          this.log.warn(
            { cluster: member.name, err: errorMessage(e) },
            'installing MCS CRDs failed; retrying',
          );
        await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * attempt)));
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
