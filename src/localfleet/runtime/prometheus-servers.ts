// One real Prometheus (Debian's package) per member of the local fleet, on the member's own
// loopback address, with its data under the member's fleet directory. It scrapes the pod
// processes that ask for it (prometheus-targets.ts): a Pod cache per member and the PodAddressMap
// are turned into a file_sd targets file, rewritten (atomically) on every change, which Prometheus
// watches. Once ready, its URL is set on the member's Cluster in the hub
// (spec.observability.prometheusURL, under a field manager of its own, released on stop), so the
// hub's fleet metrics API reads it.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_VERSION } from '../../api/group.ts';
import type { ClusterClient, KubeObject } from '../../kube/cluster-client.ts';
import { assertLoopbackAllowed } from '../../dial/dial-guard.ts';
import { dialFetch } from '../../dial/dialer.ts';
import { MeridianError, errorMessage } from '../../kube/errors.ts';
import { Informer } from '../../kube/informer.ts';
import { sleep } from '../../kube/sleep.ts';
import type { Logger } from '../../logging/logger.ts';
import type { FleetLayout } from '../layout.ts';
import { serviceLoopbackPrefix } from './loopback-ranges.ts';
import type { PodAddressMap } from './pod-addresses.ts';
import { prometheusConfig, scrapeTargets, type PodObject } from './prometheus-targets.ts';
import { MEMBER_PROMETHEUS_PORT, memberPrometheusAddress } from './service-address-plan.ts';

/** The field manager that owns spec.observability.prometheusURL of the local members' Clusters. */
export const PROMETHEUS_FIELD_MANAGER = 'meridian-local-prometheus';

export interface MemberPrometheusOptions {
  readonly layout: FleetLayout;
  readonly members: readonly { readonly name: string; readonly client: ClusterClient }[];
  readonly pods: PodAddressMap;
  /** The fleet directory; each member's Prometheus lives in `<dir>/<member>/prometheus`. */
  readonly dir: string;
  /** The hub, to register each member's Prometheus on its Cluster; none: not registered. */
  readonly hub?: ClusterClient;
  readonly scrapeIntervalSeconds?: number;
  /** The prometheus executable (default: `prometheus` on PATH, Debian's /usr/bin/prometheus). */
  readonly binary?: string;
  readonly log?: Logger;
  readonly readyTimeoutMs?: number;
}

interface Member {
  readonly name: string;
  readonly listen: string;
  readonly home: string;
  readonly targetsFile: string;
  readonly pods: Informer<PodObject & KubeObject>;
  child?: ChildProcess;
  exited?: Promise<void>;
  lastTargets?: string;
}

export class MemberPrometheusServers {
  private readonly members: Member[] = [];
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly opts: MemberPrometheusOptions) {}

  /** `http://host:port` of a member's Prometheus. */
  url(member: string): string | undefined {
    const m = this.members.find((x) => x.name === member);
    return m ? `http://${m.listen}` : undefined;
  }

  /** Starts every member's Prometheus, waits until each is ready and registers it on its Cluster. */
  async start(): Promise<void> {
    const { layout, log } = this.opts;
    for (const { name, client } of this.opts.members) {
      const index = layout.all.findIndex((c) => c.name === name);
      const address = memberPrometheusAddress(serviceLoopbackPrefix(layout.subnet, index));
      assertLoopbackAllowed(address);
      const home = join(this.opts.dir, name, 'prometheus');
      const m: Member = {
        name,
        listen: `${address}:${MEMBER_PROMETHEUS_PORT}`,
        home,
        targetsFile: join(home, 'targets.json'),
        pods: new Informer<PodObject & KubeObject>(client, 'v1', 'Pod', {
          onError: (err, attempt) => {
            if (attempt === 1 || attempt % 20 === 0)
              log?.warn({ cluster: name, err, attempt }, 'pod watch for Prometheus targets failed; retrying');
          },
        }),
      };
      this.members.push(m);
      m.pods.on(() => this.writeTargets(m));
    }
    this.unsubscribe = this.opts.pods.onChange(() => {
      for (const m of this.members) this.writeTargets(m);
    });
    try {
      await Promise.all(this.members.map((m) => this.startOne(m)));
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  private writeTargets(m: Member): void {
    if (this.stopped) return;
    const groups = scrapeTargets(m.pods.list(), (ip) => this.opts.pods.loopbackFor(ip));
    const text = `${JSON.stringify(groups, null, 2)}\n`;
    if (text === m.lastTargets) return;
    const tmp = `${m.targetsFile}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, m.targetsFile);
    m.lastTargets = text;
  }

  private async startOne(m: Member): Promise<void> {
    const interval = this.opts.scrapeIntervalSeconds ?? 15;
    mkdirSync(join(m.home, 'data'), { recursive: true });
    const config = join(m.home, 'prometheus.yml');
    writeFileSync(config, prometheusConfig(m.targetsFile, interval));
    m.pods.start();
    await m.pods.settled();
    this.writeTargets(m);
    const logFd = openSync(join(m.home, 'prometheus.log'), 'a');
    const child = spawn(
      this.opts.binary ?? 'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(m.home, 'data')}`,
        `--web.listen-address=${m.listen}`,
        '--storage.tsdb.retention.time=2d',
        '--log.level=warn',
      ],
      { stdio: ['ignore', logFd, logFd] },
    );
    closeSync(logFd);
    m.child = child;
    m.exited = new Promise<void>((r) => child.once('exit', () => r()));
    const spawnError = new Promise<never>((_, reject) =>
      child.once('error', (e) =>
        reject(
          new MeridianError(
            'PrometheusMissing',
            `cluster ${m.name}: cannot start ${this.opts.binary ?? 'prometheus'} (${e.message}); install Debian's prometheus package`,
          ),
        ),
      ),
    );
    await Promise.race([this.waitReady(m), spawnError]);
    if (this.opts.hub) await this.register(this.opts.hub, m.name, `http://${m.listen}`);
  }

  private async waitReady(m: Member): Promise<void> {
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 60_000);
    const url = `http://${m.listen}/-/ready`;
    let last = 'no answer yet';
    for (;;) {
      if (m.child?.exitCode !== null && m.child?.exitCode !== undefined)
        throw new MeridianError(
          'PrometheusFailed',
          `cluster ${m.name}: prometheus exited with ${m.child.exitCode}; see ${join(m.home, 'prometheus.log')}`,
        );
      try {
        const r = await dialFetch(url, { signal: AbortSignal.timeout(2_000) });
        if (r.ok) return;
        last = `HTTP ${r.status}`;
      } catch (e) {
        last = errorMessage(e);
      }
      if (Date.now() > deadline || this.stopped)
        throw new MeridianError(
          'PrometheusFailed',
          `cluster ${m.name}: prometheus on ${m.listen} not ready: ${last}`,
        );
      await sleep(200);
    }
  }

  /** Sets (or with `url` undefined, releases) the Cluster's prometheusURL under our field manager. */
  private async register(hub: ClusterClient, cluster: string, url: string | undefined): Promise<void> {
    await hub.apply(
      {
        apiVersion: API_VERSION,
        kind: 'Cluster',
        metadata: { name: cluster },
        ...(url ? { spec: { observability: { prometheusURL: url } } } : {}),
      },
      { fieldManager: PROMETHEUS_FIELD_MANAGER, force: true },
    );
  }

  /** Releases the registrations, stops every Prometheus (SIGTERM, then SIGKILL) and the caches. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    const hub = this.opts.hub;
    await Promise.all(
      this.members.map(async (m) => {
        if (hub && m.child) {
          try {
            await this.register(hub, m.name, undefined);
          } catch (e) {
            this.opts.log?.warn({ cluster: m.name, err: errorMessage(e) }, 'could not release prometheusURL');
          }
        }
        await m.pods.stop();
        const child = m.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const grace = new AbortController();
        const killed = await Promise.race([
          m.exited!.then(() => true),
          sleep(10_000, grace.signal).then(() => false),
        ]);
        grace.abort();
        if (!killed) {
          child.kill('SIGKILL');
          await m.exited;
        }
      }),
    );
  }
}
