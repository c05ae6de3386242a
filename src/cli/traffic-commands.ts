// `meridian traffic status HOST | drain CLUSTER`: what the global traffic layer does for a host,
// and taking a cluster out of rotation. Both read and write hub state only; the answer shown is
// computed with the same ranking the GSLB DNS and the edge gateway use.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { API_VERSION } from '../api/group.ts';
import type { Cluster } from '../api/cluster.ts';
import type { GlobalIngress } from '../api/global-ingress.ts';
import { MeridianError } from '../kube/errors.ts';
import {
  EMPTY_GEO_TABLE,
  parseGeoTable,
  buildRoutes,
  StaticRoutingTable,
  BalancerCounters,
  dnsAnswerClusters,
  rankClusters,
} from '../traffic/routing/index.ts';
import { hubClient, type HubFlags } from './hub-connection.ts';
import { EXIT } from './options.ts';
import { age, printTable } from './table.ts';

export interface TrafficStatus {
  host: string;
  globalIngress: string;
  strategy: string;
  ttlSeconds: number;
  clusters: {
    name: string;
    region: string;
    addresses: readonly string[];
    healthy: boolean;
    drained: boolean;
    reason?: string;
    message?: string;
    since?: string;
  }[];
  dnsAnswer: string[];
  degraded: boolean;
  gatewayTarget?: string;
  clientRegion?: string;
}

async function loadState(cmd: Command) {
  const hub = hubClient(cmd.optsWithGlobals<HubFlags>());
  const [gis, clusters] = await Promise.all([
    hub.list<GlobalIngress>(API_VERSION, 'GlobalIngress'),
    hub.list<Cluster>(API_VERSION, 'Cluster'),
  ]);
  return { hub, gis: gis.items, clusters: clusters.items };
}

/** Adds the subcommands of `meridian traffic` (declared, with its description, in program.ts). */
export function registerTrafficCommands(traffic: Command): void {
  traffic
    .command('status')
    .description('per-cluster health of a published host, the current DNS answer and the gateway target')
    .argument('<host>', 'host name published by a GlobalIngress')
    .option('--client <address>', 'answer as for a client at this address (Geo strategy)')
    .option('--geo-table <file>', "the hub's geo table, to resolve --client to a region")
    .option('-o, --output <format>', 'table or json', 'table')
    .action(
      async (host: string, opts: { client?: string; geoTable?: string; output: string }, cmd: Command) => {
        const { gis, clusters } = await loadState(cmd);
        const routes = buildRoutes(gis, clusters, () => undefined);
        const route = new StaticRoutingTable(routes).route(host);
        if (!route) {
          const claimed = gis.find((g) => g.spec.hosts.includes(host));
          throw new MeridianError(
            'NotFound',
            claimed
              ? `host ${host} is claimed by GlobalIngress ${claimed.metadata.namespace}/${claimed.metadata.name} but not published: ${JSON.stringify(claimed.status?.conditions ?? 'no status yet')}`
              : `no GlobalIngress publishes host ${host}`,
            EXIT.notReady,
          );
        }
        const geo = opts.geoTable ? parseGeoTable(readFileSync(opts.geoTable, 'utf8')) : EMPTY_GEO_TABLE;
        const ctx = { clientAddress: opts.client, geo, counters: new BalancerCounters() };
        const dns = dnsAnswerClusters(route, ctx);
        const gateway = rankClusters(route, { ...ctx, counters: new BalancerCounters() });
        const gi = gis.find(
          (g) => g.metadata.namespace === route.owner.namespace && g.metadata.name === route.owner.name,
        );
        const statusByName = new Map((gi?.status?.clusters ?? []).map((c) => [c.name, c]));
        const out: TrafficStatus = {
          host: route.host,
          globalIngress: `${route.owner.namespace}/${route.owner.name}`,
          strategy: route.strategy.type,
          ttlSeconds: route.ttlSeconds,
          clusters: route.clusters.map((c) => {
            const s = statusByName.get(c.name);
            return {
              name: c.name,
              region: c.region,
              addresses: c.addresses,
              healthy: c.healthy,
              drained: c.drained,
              reason: s?.reason,
              message: s?.message,
              since: s?.lastTransitionTime,
            };
          }),
          dnsAnswer: dns.clusters.flatMap((c) => c.addresses),
          degraded: dns.degraded,
          gatewayTarget: gateway.clusters[0]?.name,
          clientRegion: dns.clientRegion,
        };
        if (opts.output === 'json') {
          process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          `host ${out.host}  (GlobalIngress ${out.globalIngress}, strategy ${out.strategy}, TTL ${out.ttlSeconds}s)\n\n`,
        );
        const rows = [
          ['CLUSTER', 'REGION', 'ADDRESS', 'HEALTHY', 'DRAINED', 'REASON', 'SINCE', 'LAST CHECK'],
        ];
        for (const c of out.clusters)
          rows.push([
            c.name,
            c.region,
            c.addresses.join(','),
            String(c.healthy),
            String(c.drained),
            c.reason ?? '-',
            age(c.since),
            c.message ?? '-',
          ]);
        printTable(rows);
        const region = out.clientRegion ? ` (client region ${out.clientRegion})` : '';
        process.stdout.write(
          `\nDNS answer${region}: ${out.dnsAnswer.join(' ') || '(none)'}${out.degraded ? '  [degraded: no cluster in rotation, answering with all]' : ''}\n`,
        );
        process.stdout.write(`gateway target: ${out.gatewayTarget ?? '(none)'}\n`);
      },
    );

  traffic
    .command('drain')
    .description(
      'take a cluster out of rotation: DNS stops naming it and the edge gateway sends it no new requests (in-flight ones finish)',
    )
    .argument('<cluster>', 'cluster name')
    .option('--undo', 'put the cluster back into rotation')
    .action(async (name: string, opts: { undo?: boolean }, cmd: Command) => {
      const { hub, gis } = await loadState(cmd);
      const cluster = await hub.get<Cluster>(API_VERSION, 'Cluster', name);
      if (!cluster) throw new MeridianError('NotFound', `cluster ${name} does not exist`, EXIT.notReady);
      await hub.mergePatch<Cluster>(
        { apiVersion: API_VERSION, kind: 'Cluster', metadata: { name } },
        { spec: { traffic: { drained: !opts.undo } } },
        'meridian-cli',
      );
      const served = gis.filter((g) => g.status?.clusters?.some((c) => c.name === name));
      const ttl = Math.max(0, ...served.map((g) => g.spec.dns?.ttlSeconds ?? 30));
      if (opts.undo) {
        process.stdout.write(`cluster ${name} is back in rotation for ${served.length} GlobalIngress(es)\n`);
      } else {
        process.stdout.write(
          `cluster ${name} drained: no new DNS answers or gateway requests for ${served.length} GlobalIngress(es); ` +
            `resolvers may keep cached answers for up to ${ttl}s (the largest TTL served there)\n`,
        );
      }
    });
}
