// `meridian fleet up|status|down|kubeconfig|build`: the local fleet.
import { spawn } from 'node:child_process';
import { openSync, closeSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { setLoopbackOnly } from '../dial/dial-guard.ts';
import { MeridianError, errorMessage } from '../kube/errors.ts';
import { REPO_ROOT, ensureBinaries, type BuildProgress } from '../toolchain/binaries.ts';
import {
  DEMO_TRAFFIC,
  POD_RUNTIME,
  fleetDir,
  fleetDown,
  fleetHome,
  fleetStatus,
  fleetUp,
  mergedKubeconfigPath,
  readFleetState,
} from '../localfleet/fleet.ts';
import {
  DEFAULT_SUBNET,
  LOCAL_DNS,
  LOCAL_DNS_SERVER,
  LOCAL_DNS_ZONE,
  LOCAL_EDGE,
  LOCAL_HUB_API,
  LOCAL_INGRESS_PORT,
} from '../localfleet/layout.ts';
import { isAlive, readPid, stopPids } from '../localfleet/processes.ts';
import { loadLocalImages } from '../localfleet/runtime/local-images.ts';
import { readPodAddressFile } from '../localfleet/runtime/pod-address-file.ts';
import { PodRuntime } from '../localfleet/runtime/pod-runtime.ts';
import { ServiceProxy } from '../localfleet/runtime/service-proxy.ts';
import { MemberPrometheusServers } from '../localfleet/runtime/prometheus-servers.ts';
import { CLUSTER_DNS_PRELOAD, clusterDnsVariables } from '../localfleet/runtime/cluster-dns-env.ts';
import { podProcessesOf } from '../localfleet/runtime/process-sweep.ts';
import { createLogger } from '../logging/logger.ts';
import { localHubClient, registerLocalMembers, waitForReadyClusters } from '../localfleet/register.ts';
import {
  applyReferencePolicy,
  deployReferenceSystem,
  grantTraceWriters,
  publishReferenceSystem,
  viewerToken,
} from '../localfleet/reference-system.ts';
import { IngressEmulator } from '../localfleet/ingress-emulator.ts';
import { watchFaults } from '../localfleet/fault-file.ts';
import { ensurePromql } from '../observe/metrics/promql-build.ts';
import { ensureConsole } from '../hub/console-build.ts';
import { ClusterClient, loadKubeConfig } from '../kube/cluster-client.ts';
import { intOption } from './options.ts';
import { printTable } from './table.ts';

const say = (m: string): void => void process.stderr.write(`${m}\n`);

/** A progress bar on a terminal; a line every ~10 % of packages in logs and CI. */
function buildProgress(): { onBuild: BuildProgress; done: () => void } {
  const tty = process.stderr.isTTY === true;
  let bar: cliProgress.SingleBar | undefined;
  let lastStep = '';
  let lastDecile = -1;
  return {
    onBuild: (e) => {
      if (e.step !== lastStep) {
        bar?.stop();
        bar = undefined;
        lastStep = e.step;
        lastDecile = -1;
        if (!e.step.startsWith('building')) say(`  ${e.step}…`);
      }
      if (!e.step.startsWith('building')) return;
      if (!e.total) {
        // `go install` pkg@version: the package count is not known up front.
        if (e.done % 100 === 1) say(`  ${e.step}: ${e.done} packages compiled so far`);
        return;
      }
      if (tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            { format: `  ${e.step} [{bar}] {value}/{total} packages`, stream: process.stderr },
            cliProgress.Presets.shades_classic,
          );
          bar.start(e.total || 1, 0);
        }
        bar.update(e.done);
      } else {
        const decile = Math.floor((e.done / e.total) * 10);
        if (decile !== lastDecile) {
          lastDecile = decile;
          say(`  ${e.step}: ${e.done}/${e.total} packages`);
        }
      }
    },
    done: () => bar?.stop(),
  };
}

/**
 * Starts a `meridian` subcommand in the background for the local fleet, logging to
 * `<fleet dir>/<name>.log` with its pid in `<name>.pid`; a running one is kept.
 */
async function startLocalProcess(name: string, args: readonly string[]): Promise<number> {
  const dir = fleetDir();
  const existing = readPid({ dir, name });
  if (existing !== undefined && isAlive(existing)) return existing;
  const log = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'meridian.mjs'), ...args], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, MERIDIAN_LOOPBACK_ONLY: '1' },
  });
  closeSync(log);
  child.unref();
  writeFileSync(join(dir, `${name}.pid`), `${child.pid}\n`);
  return child.pid!;
}

/** The local fleet's hub process: HTTP API, GSLB DNS and edge gateway on 127.0.0.1. */
function startLocalHub(): Promise<number> {
  return startLocalProcess('meridian-hub', [
    'hub',
    '--hub-kubeconfig',
    mergedKubeconfigPath(),
    '--hub-context',
    'hub',
    '--listen',
    LOCAL_HUB_API,
    // Loopback only, and the console and the demo print http:// addresses.
    '--plain-http',
    '--state-dir',
    fleetDir(),
    // The local fleet's hub may render charts from this checkout (examples/).
    '--local-source-root',
    REPO_ROOT,
    '--dns-listen',
    LOCAL_DNS,
    '--dns-zone',
    LOCAL_DNS_ZONE,
    '--edge-listen',
    LOCAL_EDGE,
    // Embedded stores (traces) live with the fleet and go with `fleet down`.
    '--data-dir',
    join(fleetDir(), 'observe'),
  ]);
}

/** Adds the subcommands of `meridian fleet` (declared, with its description, in program.ts). */
export function registerFleetCommands(fleet: Command): void {
  fleet
    .command('up')
    .description(
      'start a hub and N member clusters (idempotent), register the members and start the hub process',
    )
    .option(
      '--members <n>',
      'number of member clusters (regions eu-west, us-east, ap-south, …)',
      intOption('--members', 1, 8),
      3,
    )
    .option('--subnet <a.b.c>', 'loopback /24 for the API servers', DEFAULT_SUBNET)
    .option('--no-hub', 'do not start the `meridian hub` process (implies --no-demo)')
    .option(
      '--no-demo',
      'do not deploy the reference system (examples/reference-system) nor start its traffic',
    )
    .option('--rps <n>', "the shop traffic's requests per second (1–200)", intOption('--rps', 1, 200), 3)
    .option(
      '--traffic-duration <seconds>',
      'how long the shop traffic runs before it stops by itself',
      intOption('--traffic-duration', 1, 7 * 24 * 3600),
      4 * 3600,
    )
    .option(
      '--timeout <seconds>',
      'how long to wait for every Cluster to turn Ready',
      intOption('--timeout', 1, 3600),
      120,
    )
    .action(
      async (opts: {
        members: number;
        subnet: string;
        hub: boolean;
        demo: boolean;
        timeout: number;
        rps: number;
        trafficDuration: number;
      }) => {
        setLoopbackOnly(true);
        const started = Date.now();
        const progress = buildProgress();
        await fleetUp({
          members: opts.members,
          subnet: opts.subnet,
          onBuild: progress.onBuild,
          report: (m) => {
            progress.done();
            say(m);
          },
          afterClusters: async (layout, dir) => {
            // A broken local-images.yaml fails here, named, rather than in the runtime's log.
            loadLocalImages(fleetHome());
            await registerLocalMembers(layout, dir, say);
            // Inside fleet up's clean-up: a failed `fleet up` stops the runtime with the rest. After
            // registering: the runtime registers each member's Prometheus on its Cluster.
            const pid = await startLocalProcess(POD_RUNTIME, [
              'fleet',
              'pod-runtime',
              '--kubeconfig',
              mergedKubeconfigPath(dir),
              // Without the hub (tests of one part) no member Prometheus (nowhere to register it) and
              // no ingress addresses (tests serve them): the pods, their Services and cluster DNS.
              ...(opts.hub ? [] : ['--services-only']),
            ]);
            say(
              `pod runtime running (pid ${pid}): pods of meridian.local/ images run as processes on loopback, Services on loopback, a Prometheus per member`,
            );
          },
        });
        if (opts.hub) {
          await ensureConsole();
          const pid = await startLocalHub();
          say(
            `hub process running (pid ${pid}, log ${join(fleetDir(), 'meridian-hub.log')}); waiting for members to turn Ready…`,
          );
          await waitForReadyClusters(opts.timeout * 1000, say);
          if (opts.demo) {
            await grantTraceWriters(say);
            await applyReferencePolicy();
            const app = await deployReferenceSystem(opts.timeout * 1000, say);
            say(
              `reference system Healthy on ${app.status?.readyClusters} clusters (revision ${app.status?.revision}): app1 → app2 → db in namespace shop`,
            );
            const host = await publishReferenceSystem(opts.timeout * 1000, say);
            const trafficPid = await startLocalProcess(DEMO_TRAFFIC, [
              'demo',
              'traffic',
              '--rps',
              String(opts.rps),
              '--duration',
              String(opts.trafficDuration),
              '--quiet',
            ]);
            say(
              `shop traffic: ${opts.rps} requests/s through the edge gateway for ${opts.trafficDuration} s (pid ${trafficPid}; \`meridian demo status\`)`,
            );
            // The token goes in the URL's fragment, which browsers never send to a server.
            const token = await viewerToken();
            say('');
            say(`  web console: http://${LOCAL_HUB_API}/console/#token=${token}`);
            say(`  edge:        curl -H 'Host: ${host}' http://${LOCAL_EDGE}/items`);
            say(`  GSLB DNS:    dig @${LOCAL_DNS_SERVER.host} -p ${LOCAL_DNS_SERVER.port} ${host}`);
            say('  try:         node bin/meridian.mjs demo fail service app2 --cluster eu-west');
            say('               node bin/meridian.mjs demo fail cluster eu-west');
            say('               node bin/meridian.mjs demo release bad');
            say('               node bin/meridian.mjs demo drain us-east');
            say('               (each undone by `demo recover …` / `demo undrain`; `demo --help` for more)');
          }
        }
        say(`fleet up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        say(
          `  kubeconfig: ${mergedKubeconfigPath()}  (contexts: hub, ${readFleetState()
            ?.layout.members.map((m) => m.name)
            .join(', ')})`,
        );
        say(`  try: kubectl --kubeconfig ${mergedKubeconfigPath()} get clusters`);
      },
    );

  fleet
    .command('pod-runtime', { hidden: true })
    .description(
      'run the pods of local images (meridian.local/…) of every member as processes on loopback (started by `fleet up`)',
    )
    .requiredOption('--kubeconfig <file>', 'merged kubeconfig of the local fleet')
    .option(
      '--no-services',
      'run the pods only: no Service listeners, cluster DNS, member Prometheus or ingress addresses',
    )
    .option('--services-only', 'pods, Services and cluster DNS: no member Prometheus or ingress addresses')
    .action(async (opts: { kubeconfig: string; services: boolean; servicesOnly?: boolean }) => {
      setLoopbackOnly(true);
      const dir = fleetDir();
      const state = readFleetState(dir);
      if (!state) throw new MeridianError('NotFound', `no local fleet in ${dir}`, 3);
      const log = createLogger('pod-runtime');
      // Processes a killed runtime left behind hold their ports and data directories.
      const orphans = podProcessesOf(dir);
      if (orphans.length > 0) {
        log.info({ pids: orphans }, 'stopping pod processes of a previous runtime');
        await stopPids(orphans, 3_000);
      }
      // One client per member, shared by the runtime, the Service proxy and the member Prometheus.
      const members = state.layout.members.map((m) => ({
        name: m.name,
        index: state.layout.all.findIndex((c) => c.name === m.name),
        client: new ClusterClient(m.name, loadKubeConfig({ file: opts.kubeconfig }, m.name)),
      }));
      const runtime = new PodRuntime({
        members,
        subnet: state.layout.subnet,
        fleetDir: dir,
        images: loadLocalImages(fleetHome()),
        log,
      });
      // The data plane around the pods: each member's Services (kube-proxy semantics) and cluster
      // DNS names on loopback, and a Prometheus per member scraping the pods that ask for it.
      const withServices = opts.services;
      const proxy = withServices
        ? new ServiceProxy({
            layout: state.layout,
            members,
            pods: runtime,
            log: log.child({ part: 'services' }),
          })
        : undefined;
      const withHubParts = withServices && !opts.servicesOnly;
      const proms = withHubParts
        ? new MemberPrometheusServers({
            layout: state.layout,
            members,
            pods: runtime,
            dir,
            hub: localHubClient(dir),
            log: log.child({ part: 'prometheus' }),
          })
        : undefined;
      if (proxy) {
        await proxy.start();
        runtime.setServiceAddresses(proxy);
        runtime.addPreload(CLUSTER_DNS_PRELOAD);
        // The preload goes in with the runtime's own preloads; each pod gets its member's server.
        runtime.setExtraEnv((cluster, namespace) => {
          const dns = proxy.dnsServer(cluster);
          return dns ? clusterDnsVariables(dns, namespace) : {};
        });
      }
      // Each member's ingress address, proxying by its Ingress objects to the Services above; a
      // member whose ingress `meridian demo fail cluster` took down refuses connections.
      const ingressProxy = withHubParts ? proxy : undefined;
      const ingress = ingressProxy
        ? new IngressEmulator(
            state.layout.members.map((m) => ({
              name: m.name,
              region: m.region,
              client: members.find((x) => x.name === m.name)!.client,
              address: m.ingressAddress,
              port: LOCAL_INGRESS_PORT,
            })),
            ingressProxy,
          )
        : undefined;
      await ingress?.start();
      const unwatchFaults = ingress
        ? watchFaults(dir, (f) => {
            for (const m of state.layout.members) {
              const down = f.ingressDown.includes(m.name);
              if (down === ingress.isUp(m.name)) {
                log.info({ cluster: m.name }, down ? 'ingress taken down (fault file)' : 'ingress back up');
                (down ? ingress.down(m.name) : ingress.up(m.name)).catch((e: unknown) =>
                  log.error({ cluster: m.name, err: errorMessage(e) }, 'ingress address not changed'),
                );
              }
            }
          })
        : undefined;
      runtime.start();
      log.info({ members: state.layout.members.map((m) => m.name) }, 'pod runtime started');
      // A member Prometheus that cannot start (no `prometheus` on PATH) costs the fleet its pod
      // metrics, not its pods.
      await proms
        ?.start()
        .catch((e: unknown) => log.error({ err: errorMessage(e) }, 'member Prometheus servers not started'));
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      unwatchFaults?.();
      await ingress?.stop();
      await runtime.stop();
      await proms?.stop();
      await proxy?.stop();
      log.info('pod runtime stopped');
    });

  fleet
    .command('pods')
    .description('the pods running as local processes: pod IP → loopback address, ports, readiness, restarts')
    .option('-o, --output <format>', 'table or json', 'table')
    .action((opts: { output: string }) => {
      const dir = fleetDir();
      if (!readFleetState(dir)) {
        say(`no local fleet in ${dir} (start one with \`meridian fleet up\`)`);
        process.exitCode = 3;
        return;
      }
      const pid = readPid({ dir, name: POD_RUNTIME });
      const file = readPodAddressFile(dir);
      if (pid === undefined || !isAlive(pid) || !file) {
        say('the pod runtime is not running (`meridian fleet up` starts it)');
        process.exitCode = 3;
        return;
      }
      const pods = [...file.pods].sort(
        (a, b) =>
          a.cluster.localeCompare(b.cluster) ||
          a.namespace.localeCompare(b.namespace) ||
          a.pod.localeCompare(b.pod),
      );
      if (opts.output === 'json') {
        process.stdout.write(`${JSON.stringify(pods, null, 2)}\n`);
        return;
      }
      const rows = [['CLUSTER', 'NAMESPACE', 'POD', 'POD IP', 'LOOPBACK', 'PORTS', 'READY', 'RESTARTS']];
      for (const p of pods) {
        rows.push([
          p.cluster,
          p.namespace,
          p.pod,
          p.podIp,
          p.loopback,
          p.ports.join(',') || '-',
          p.ready ? 'true' : 'false',
          String(p.restarts),
        ]);
      }
      printTable(rows);
    });

  fleet
    .command('status')
    .description('show every local cluster: processes, API reachability, version, ready nodes')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (opts: { output: string }) => {
      const st = await fleetStatus();
      if (!st.state) {
        say(`no local fleet in ${fleetDir()} (start one with \`meridian fleet up\`)`);
        process.exitCode = 3;
        return;
      }
      const hubPid = readPid({ dir: fleetDir(), name: 'meridian-hub' });
      const hubRunning = hubPid !== undefined && isAlive(hubPid);
      if (opts.output === 'json') {
        process.stdout.write(
          `${JSON.stringify({ clusters: st.clusters, hubProcess: { running: hubRunning, pid: hubPid } }, null, 2)}\n`,
        );
      } else {
        const rows = [['CLUSTER', 'ROLE', 'SERVER', 'PROCESSES', 'API', 'VERSION', 'NODES READY']];
        for (const c of st.clusters) {
          const up = c.components.filter((p) => p.running).length;
          const down = c.components.filter((p) => !p.running).map((p) => p.name);
          rows.push([
            c.name,
            c.role,
            c.server,
            down.length
              ? `${up}/${c.components.length} (down: ${down.join(',')})`
              : `${up}/${c.components.length}`,
            c.apiReachable ? 'ok' : `unreachable`,
            c.version ?? '-',
            c.nodesReady === undefined ? '-' : String(c.nodesReady),
          ]);
        }
        printTable(rows);
        process.stdout.write(`hub process: ${hubRunning ? `running (pid ${hubPid})` : 'not running'}\n`);
      }
      const healthy = st.clusters.every((c) => c.apiReachable && c.components.every((p) => p.running));
      if (!healthy) process.exitCode = 3;
    });

  fleet
    .command('down')
    .description('stop every process of the local fleet and delete its data')
    .option('--keep-data', 'keep certificates, etcd data and logs for the next `fleet up`')
    .action(async (opts: { keepData?: boolean }) => {
      if (!existsSync(fleetDir())) {
        say('no local fleet to stop');
        return;
      }
      await fleetDown({ report: say, keepData: opts.keepData });
    });

  fleet
    .command('kubeconfig')
    .description('print the path of the merged kubeconfig (contexts: hub and one per member)')
    .action(() => {
      const p = mergedKubeconfigPath();
      if (!existsSync(p))
        throw new MeridianError('NoFleet', 'no local fleet yet: run `meridian fleet up`', 3);
      process.stdout.write(`${p}\n`);
    });

  fleet
    .command('build')
    .description(
      "build (or verify the cache of) the Kubernetes binaries, the hub's PromQL engine (WebAssembly) and the web console without starting anything",
    )
    .action(async () => {
      const progress = buildProgress();
      const bins = await ensureBinaries(progress.onBuild);
      progress.done();
      process.stdout.write(`${bins.dir}\n`);
      const promql = await ensurePromql();
      process.stdout.write(`${dirname(promql.wasm)}\n`);
      process.stdout.write(`${await ensureConsole()}\n`);
    });
}
