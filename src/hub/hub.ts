// `meridian hub`: the controller manager against the hub cluster. Every replica serves health and
// the HTTP API; only the holder of the leader Lease runs controllers.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { API_VERSION } from '../api/group.ts';
import type { Cluster } from '../api/cluster.ts';
import type { Application } from '../api/application.ts';
import { redactApplication } from '../api/application-redact.ts';
import { BadRequestError } from '../http/route-contract.ts';
import type { ClusterClient } from '../kube/cluster-client.ts';
import { errorMessage } from '../kube/errors.ts';
import { ClusterController } from '../fleet/cluster-controller.ts';
import { DeployController } from '../deploy/application-controller.ts';
import { TrafficController } from '../traffic/controller/index.ts';
import { MeshController } from '../mesh/mesh-controller.ts';
import { TrafficTableSync, EMPTY_GEO_TABLE, type GeoTable } from '../traffic/routing/index.ts';
import { GslbDnsServer, GslbDnsWorkers, defaultZoneConfig } from '../traffic/dns/index.ts';
import { EdgeAccessLog, EdgeGateway, EdgeGatewayWorkers } from '../traffic/edge/index.ts';
import { cacheRoot, renderTools } from '../toolchain/binaries.ts';
import { join } from 'node:path';
import type { Logger } from '../logging/logger.ts';
import { HubAuthorizer } from './auth.ts';
import { installCrds, installHubBasics } from './crd-install.ts';
import { HubHttpServer } from './http-server.ts';
import { type Route } from '../http/route-contract.ts';
import { cachedConsole } from './console-build.ts';
import { LeaderElector } from './leader-election.ts';
import { createHubMetrics } from './metrics.ts';
import { openApiRoute } from './openapi.ts';
import { MERIDIAN_VERSION } from '../version.ts';
import { FleetView } from '../observe/fleet-view.ts';
import { createObserveServices, type ObserveOptions } from '../observe/services.ts';

export interface HubOptions {
  readonly hub: ClusterClient;
  readonly log: Logger;
  readonly listenHost: string;
  readonly listenPort: number;
  readonly tls?: { certFile: string; keyFile: string };
  readonly identity?: string;
  readonly leaseDurationSeconds?: number;
  readonly signal: AbortSignal;
  /** Directory Applications may use local chart/kustomize paths from (local development only). */
  readonly localSourceRoot?: string;
  /** GSLB DNS: where to listen and which zones to answer for (off when unset). */
  readonly dns?: {
    host: string;
    port: number;
    zones: readonly string[];
    nameserverAddresses?: readonly string[];
    /**
     * Worker processes answering from the shared port (dns-workers.ts); 0: in the hub process.
     * Default 1: a flood of junk queries then stalls a worker, never the controllers or the lease.
     */
    workers?: number;
  };
  /** Edge gateway listeners (off when unset); TLS certificates come from the GlobalIngresses' Secrets. */
  readonly edge?: {
    http: { host: string; port: number };
    https?: { host: string; port: number };
    /** Worker processes proxying from the shared listeners (edge-workers.ts); 0: in the hub process (default 1). */
    workers?: number;
  };
  /** Client networks → regions for the Geo strategy. */
  readonly geoTable?: GeoTable;
  /** Observability services (logs, metrics, traces, topology) settings. */
  readonly observe?: ObserveOptions;
  /** Called once the HTTP server listens (tests and `fleet up` read the port from here). */
  readonly onListening?: (address: { host: string; port: number }) => void;
}

/** DNS and edge workers when the hub is not told: one process each, a bulkhead for the control loop. */
export const DEFAULT_TRAFFIC_WORKERS = 1;

/** The routes of the hub's own API; services add theirs next to these. */
function hubRoutes(hub: ClusterClient): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/whoami',
      access: () => ({ kind: 'authenticated' }),
      handle: async ({ user }) => ({ body: { username: user.username, groups: user.groups } }),
      doc: { summary: 'Who the bearer token belongs to', tags: ['hub'] },
    },
    {
      method: 'GET',
      path: '/api/v1/clusters',
      access: () => ({ kind: 'resource', verb: 'list', group: 'meridian.dev', resource: 'clusters' }),
      doc: { summary: 'Member clusters with region, zone and status', tags: ['hub'] },
      handle: async () => {
        const list = await hub.list<Cluster>(API_VERSION, 'Cluster');
        // The API returns what `kubectl get clusters -o json` would, minus managedFields noise.
        return {
          body: {
            items: list.items.map((c) => ({
              name: c.metadata.name,
              region: c.spec.region,
              zone: c.spec.zone,
              status: c.status ?? {},
            })),
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/applications',
      // A subresource of its own: the viewer role may list this and not the Applications
      // themselves, whose spec can carry Secrets inline (api/application-redact.ts).
      access: (url) => ({
        kind: 'resource',
        verb: 'list',
        group: 'meridian.dev',
        resource: 'applications',
        subresource: 'redacted',
        namespace: url.searchParams.get('namespace') || undefined,
      }),
      doc: {
        summary: 'Applications with secret material redacted (Secret data, Helm values, URL credentials)',
        tags: ['hub'],
        params: [{ name: 'namespace', description: 'only this namespace (default: all)' }],
      },
      handle: async ({ url }) => {
        const namespace = url.searchParams.get('namespace') || undefined;
        if (namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace))
          throw new BadRequestError('namespace', `"${namespace.slice(0, 100)}" is not a namespace name`);
        const list = await hub.list<Application>(API_VERSION, 'Application', { namespace });
        return { body: { items: list.items.map(redactApplication) } };
      },
    },
  ];
}

export async function runHub(opts: HubOptions): Promise<void> {
  const { hub, log, signal } = opts;
  const identity = opts.identity ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const metrics = createHubMetrics();
  let controller: ClusterController | undefined;
  let deploy: DeployController | undefined;
  let traffic: TrafficController | undefined;
  let mesh: MeshController | undefined;
  let crdsReady = false;

  await installHubBasics(hub);
  const crds = await installCrds(hub);
  crdsReady = true;
  log.info({ crds }, 'CRDs installed');

  // Every replica serves DNS and the edge gateway from the same hub state, leader or not.
  const table = new TrafficTableSync(hub, log);
  await table.start();
  const geo = opts.geoTable ?? EMPTY_GEO_TABLE;
  let dns: GslbDnsServer | GslbDnsWorkers | undefined;
  if (opts.dns) {
    const dnsOptions = {
      host: opts.dns.host,
      port: opts.dns.port,
      table: table.table,
      zone: defaultZoneConfig(opts.dns.zones, { nameserverAddresses: opts.dns.nameserverAddresses }),
      geo: () => geo,
      logger: log,
      registry: metrics.registry,
    };
    const workers = opts.dns.workers ?? DEFAULT_TRAFFIC_WORKERS;
    dns = workers > 0 ? new GslbDnsWorkers({ ...dnsOptions, workers }) : new GslbDnsServer(dnsOptions);
    await dns.start(); // it logs where it listens, and with how many workers
  }
  let edge: EdgeGateway | EdgeGatewayWorkers | undefined;
  let edgeAccessLog: EdgeAccessLog | undefined;
  if (opts.edge) {
    const edgeOptions = {
      table: table.table,
      geo: () => geo,
      logger: log,
      accessLog: log.isLevelEnabled('info'), // as when the lines went through the hub's logger
      registry: metrics.registry,
      http: opts.edge.http,
      https: opts.edge.https,
    };
    const workers = opts.edge.workers ?? DEFAULT_TRAFFIC_WORKERS;
    if (workers > 0) {
      // Workers hand their access lines to the hub, which writes them to its stderr whole.
      edge = new EdgeGatewayWorkers({ ...edgeOptions, workers, logName: 'meridian-hub' });
    } else {
      // Access lines go where the hub's log goes (stderr), formatted alike, in buffered chunks.
      edgeAccessLog = new EdgeAccessLog(process.stderr, { name: 'meridian-hub' });
      edge = new EdgeGateway({ ...edgeOptions, accessLogger: edgeAccessLog });
    }
    const a = await edge.start();
    log.info({ http: a.http?.port, https: a.https?.port, workers }, 'edge gateway listening');
  }

  // Observability reads the fleet on every replica, leader or not.
  const fleet = new FleetView(hub, log);
  await fleet.start();
  const observe = createObserveServices({
    hub,
    fleet,
    log,
    registry: metrics.registry,
    options: opts.observe ?? {},
  });
  for (const s of observe) await s.start?.();

  const apiRoutes = [...hubRoutes(hub), ...observe.flatMap((s) => s.routes)];
  const routes = [...apiRoutes, openApiRoute(apiRoutes, MERIDIAN_VERSION)];
  const http = new HubHttpServer({
    host: opts.listenHost,
    port: opts.listenPort,
    tls: opts.tls,
    auth: new HubAuthorizer(hub),
    metrics,
    log,
    routes,
    ready: () => crdsReady,
    consoleDir: cachedConsole(),
  });
  const addr = await http.start();
  log.info({ address: addr.address, port: addr.port, tls: Boolean(opts.tls), identity }, 'hub API listening');
  opts.onListening?.({ host: addr.address, port: addr.port });

  const elector = new LeaderElector(hub, {
    namespace: 'meridian-system',
    name: 'meridian-hub',
    identity,
    leaseDurationSeconds: opts.leaseDurationSeconds ?? 10,
    retryPeriodMs: 2_000,
    log,
  });
  let transition = Promise.resolve();
  const chain = (f: () => Promise<void>): void => {
    transition = transition
      .then(f)
      .catch((e: unknown) => log.error({ err: errorMessage(e) }, 'controller transition failed'));
  };
  await elector.run(
    signal,
    () =>
      chain(async () => {
        metrics.isLeader.set(1);
        controller = new ClusterController({ hub, log, metrics });
        await controller.start();
        deploy = new DeployController({
          hub,
          clusters: controller.clusters,
          members: controller.members,
          log,
          metrics,
          cacheDir: join(cacheRoot(), 'sources'),
          localSourceRoot: opts.localSourceRoot,
          tools: renderTools,
        });
        await deploy.start();
        traffic = new TrafficController({
          hub,
          clusters: controller.clusters,
          applications: deploy.apps,
          ingresses: table.ingresses,
          members: controller.members,
          log,
          metrics,
          // The mesh service watches every member's EndpointSlices; health checks read that cache.
          endpointSlices: (cluster) => mesh?.endpointSlices(cluster),
        });
        await traffic.start();
        mesh = new MeshController({
          hub,
          clusters: controller.clusters,
          members: controller.members,
          log,
          metrics,
        });
        await mesh.start();
        log.info('controllers started');
      }),
    () =>
      chain(async () => {
        metrics.isLeader.set(0);
        await mesh?.stop();
        await traffic?.stop();
        await deploy?.stop();
        await controller?.stop();
        mesh = undefined;
        traffic = undefined;
        deploy = undefined;
        controller = undefined;
        log.info('controllers stopped');
      }),
  );
  await transition;
  await mesh?.stop();
  await traffic?.stop();
  await deploy?.stop();
  await controller?.stop();
  await http.stop();
  for (const s of observe) await s.stop?.();
  await fleet.stop();
  await dns?.stop();
  await edge?.stop();
  await edgeAccessLog?.close();
  await table.stop();
  log.info('hub stopped');
}
