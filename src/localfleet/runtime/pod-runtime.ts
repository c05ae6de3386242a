// The local pod runtime: one per fleet, watching the pods of every member. A pod whose container
// image is a local image, once kwok has placed it (nodeName, podIP), becomes real processes on a
// loopback address of its own: the runtime plays the kubelet for it (env, probes, restarts,
// status, logs) and owns the pod-IP → loopback map. kwok keeps playing every other pod
// (kwok-stages.yaml leaves meridian.local/ pods to this runtime after giving them their IP).
import { mkdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { ClusterClient, KubeObject } from '../../kube/cluster-client.ts';
import { errorMessage } from '../../kube/errors.ts';
import { Informer } from '../../kube/informer.ts';
import { isNotFound } from '../../kube/rest.ts';
import { WorkQueue } from '../../kube/work-queue.ts';
import { ContainerSupervisor, type PrepareResult } from './container-supervisor.ts';
import { containerEnv, expandEnvRefs } from './container-env.ts';
import { containerArgv, resolveLocalImage, type LocalImage, type LocalImages } from './local-images.ts';
import { podLoopbackPrefix } from './loopback-ranges.ts';
import { writePodAddressFile, type PodAddressRow } from './pod-address-file.ts';
import type { PodAddress, PodAddressMap } from './pod-addresses.ts';
import type { Container, PodObject } from './pod-object.ts';
import { podStatus, simulateOf, type ContainerView } from './pod-status.ts';
import { preparePostgres } from './postgres-image.ts';
import { POD_PROCESS_MARKER } from './process-sweep.ts';
import type { ServiceAddressMap } from './service-addresses.ts';

/** Preloaded into every Node.js pod process: listens move to the pod's loopback address. */
export const LISTEN_PRELOAD = fileURLToPath(new URL('./preload/listen-on-pod-address.mjs', import.meta.url));
/** Preloaded into every Node.js pod process: in local mode it dials loopback only. */
export const DIAL_PRELOAD = fileURLToPath(new URL('./preload/dial-loopback-only.mjs', import.meta.url));

const FIELD_MANAGER = 'meridian-pod-runtime';

export interface RuntimeMember {
  readonly name: string;
  /** Index in FleetLayout.all (hub 0), which picks the member's loopback range. */
  readonly index: number;
  readonly client: ClusterClient;
}

export interface PodRuntimeOptions {
  readonly members: readonly RuntimeMember[];
  readonly subnet: string;
  readonly fleetDir: string;
  readonly images: LocalImages;
  /** The Service proxy's map, for service-link variables; without it pods get none. */
  readonly services?: ServiceAddressMap;
  /** Further absolute paths preloaded into Node.js pod processes (after the listen preload). */
  readonly preloads?: readonly string[];
  readonly log: Logger;
  /** Upper bound of the grace period when the runtime itself shuts down (ms). */
  readonly shutdownGraceMs?: number;
}

interface RunningPod {
  readonly uid: string;
  readonly member: RuntimeMember;
  readonly namespace: string;
  readonly name: string;
  readonly loopback: string;
  readonly hostOctet: number;
  readonly logDir: string;
  readonly containers: Map<string, ContainerSupervisor>;
  pod: PodObject;
  lastWritten?: string;
}

const keyOf = (member: string, ns: string, name: string): string => `${member}/${ns}/${name}`;

/** Whether any container runs a local image (the pods this runtime owns). */
export function localContainers(
  pod: PodObject,
  images: LocalImages,
): { container: Container; image: LocalImage }[] {
  const out: { container: Container; image: LocalImage }[] = [];
  for (const c of pod.spec.containers ?? []) {
    const image = resolveLocalImage(images, c.image);
    if (image) out.push({ container: c, image });
  }
  return out;
}

export class PodRuntime implements PodAddressMap {
  private readonly informers = new Map<string, Informer<PodObject>>();
  private readonly running = new Map<string, RunningPod>();
  private readonly used = new Map<string, Set<number>>();
  private readonly listeners = new Set<() => void>();
  private readonly queue: WorkQueue;
  private fileTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private services: ServiceAddressMap | undefined;
  private readonly preloads: string[];
  private extraEnv: ((cluster: string, namespace: string) => Record<string, string>) | undefined;

  constructor(private readonly o: PodRuntimeOptions) {
    this.queue = new WorkQueue((k) => this.reconcile(k), {
      concurrency: 8,
      onError: (key, err, attempt) =>
        o.log.warn({ key, attempt, err: errorMessage(err) }, 'pod reconcile failed'),
    });
    this.services = o.services;
    this.preloads = [...(o.preloads ?? [])];
  }

  /**
   * Wires the Service proxy's map in after construction (the proxy may need this runtime's map
   * first). Service links are read at each container start, as the kubelet does.
   */
  setServiceAddresses(services: ServiceAddressMap): void {
    this.services = services;
  }

  /** Adds environment variables to every pod process started from now on (cluster DNS, …). */
  setExtraEnv(fn: (cluster: string, namespace: string) => Record<string, string>): void {
    this.extraEnv = fn;
  }

  /** Adds an absolute path preloaded into Node.js pod processes started from now on. */
  addPreload(path: string): void {
    if (!this.preloads.includes(path)) this.preloads.push(path);
  }

  start(): void {
    for (const m of this.o.members) {
      const inf = new Informer<PodObject>(m.client, 'v1', 'Pod', {
        resyncMs: 30_000,
        onError: (err, attempt) =>
          attempt === 1 || attempt % 10 === 0
            ? this.o.log.warn({ cluster: m.name, err }, 'pod watch failed; retrying')
            : undefined,
      });
      inf.on((_e, pod) =>
        this.queue.add(keyOf(m.name, pod.metadata.namespace ?? 'default', pod.metadata.name)),
      );
      this.informers.set(m.name, inf);
      this.used.set(m.name, new Set());
      inf.start();
    }
    this.publish();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.stop();
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    const cap = this.o.shutdownGraceMs ?? 3_000;
    await Promise.all(
      [...this.running.values()].map((p) =>
        Promise.all([...p.containers.values()].map((c) => c.stop(Math.min(cap, graceMs(p.pod))))),
      ),
    );
    this.running.clear();
    if (this.fileTimer) clearTimeout(this.fileTimer);
    this.writeFile();
  }

  // PodAddressMap
  loopbackFor(podIp: string): string | undefined {
    for (const p of this.running.values()) if (p.pod.status?.podIP === podIp) return p.loopback;
    return undefined;
  }

  list(): readonly PodAddress[] {
    return this.rows();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  rows(): PodAddressRow[] {
    return [...this.running.values()].map((p) => {
      const views = [...p.containers.values()].map((c) => c.view());
      return {
        cluster: p.member.name,
        namespace: p.namespace,
        pod: p.name,
        podIp: p.pod.status?.podIP ?? '',
        loopback: p.loopback,
        ports: p.pod.spec.containers.flatMap((c) => (c.ports ?? []).map((x) => x.containerPort)),
        ready: p.pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        restarts: views.reduce((n, v) => n + v.restartCount, 0),
        image: [...p.containers.keys()]
          .map((n) => p.pod.spec.containers.find((c) => c.name === n)?.image ?? '')
          .join(','),
      };
    });
  }

  private publish(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch (e) {
        this.o.log.warn({ err: errorMessage(e) }, 'pod address listener failed');
      }
    }
    if (!this.fileTimer) {
      this.fileTimer = setTimeout(() => {
        this.fileTimer = undefined;
        this.writeFile();
      }, 50);
    }
  }

  private writeFile(): void {
    try {
      writePodAddressFile(this.o.fleetDir, this.rows());
    } catch (e) {
      this.o.log.warn({ err: errorMessage(e) }, 'cannot write the pod address file');
    }
  }

  private async reconcile(key: string): Promise<void> {
    if (this.stopped) return;
    const [memberName, namespace, name] = key.split('/') as [string, string, string];
    const member = this.o.members.find((m) => m.name === memberName)!;
    const pod = this.informers.get(memberName)?.get(name, namespace);
    let run = this.running.get(key);
    const locals = pod ? localContainers(pod, this.o.images) : [];
    const terminal = pod?.status?.phase === 'Succeeded' || pod?.status?.phase === 'Failed';
    const want =
      pod !== undefined &&
      locals.length > 0 &&
      !!pod.spec.nodeName &&
      !!pod.status?.podIP &&
      !pod.metadata.deletionTimestamp &&
      (run?.uid === pod.metadata.uid || !terminal);
    if (run && (!want || run.uid !== pod?.metadata.uid)) {
      await this.stopPod(
        key,
        run,
        pod === undefined || run.uid !== pod.metadata.uid || !!pod.metadata.deletionTimestamp,
      );
      run = undefined;
    }
    if (!want || !pod) return;
    if (!run) {
      run = await this.startPod(key, member, pod, locals);
      if (!run) return;
    } else {
      const simulateChanged = simulateOf(run.pod) !== simulateOf(pod);
      run.pod = pod;
      if (simulateChanged) for (const c of run.containers.values()) c.poke();
    }
    await this.writeStatus(run);
  }

  private allocate(member: string): number | undefined {
    const used = this.used.get(member)!;
    for (let i = 1; i <= 254; i++) {
      if (!used.has(i)) {
        used.add(i);
        return i;
      }
    }
    return undefined;
  }

  private async startPod(
    key: string,
    member: RuntimeMember,
    pod: PodObject,
    locals: { container: Container; image: LocalImage }[],
  ): Promise<RunningPod | undefined> {
    const octet = this.allocate(member.name);
    if (octet === undefined) {
      this.o.log.error({ cluster: member.name, pod: key }, 'no loopback address left for the pod');
      return undefined;
    }
    const namespace = pod.metadata.namespace ?? 'default';
    const uid = pod.metadata.uid ?? '';
    const loopback = `${podLoopbackPrefix(this.o.subnet, member.index)}.${octet}`;
    const logDir = join(this.o.fleetDir, member.name, 'pod-logs', `${namespace}_${pod.metadata.name}_${uid}`);
    mkdirSync(logDir, { recursive: true });
    const run: RunningPod = {
      uid,
      member,
      namespace,
      name: pod.metadata.name,
      loopback,
      hostOctet: octet,
      logDir,
      containers: new Map(),
      pod,
    };
    const logFile = (c: string): string => join(logDir, `${c}.log`);
    const previousLogFile = (c: string): string => join(logDir, `${c}.previous.log`);
    await this.applyLogs(
      run,
      locals.map((l) => l.container.name),
      logFile,
      previousLogFile,
    );
    for (const { container, image } of locals) {
      const sup = new ContainerSupervisor({
        container,
        restartPolicy: pod.spec.restartPolicy ?? 'Always',
        initialRestartCount:
          pod.status?.containerStatuses?.find((s) => s.name === container.name)?.restartCount ?? 0,
        loopback,
        logFile: logFile(container.name),
        previousLogFile: previousLogFile(container.name),
        graceMs: () => graceMs(run.pod),
        simulate: () => simulateOf(run.pod),
        prepare: () => this.prepare(run, container, image),
        onChange: () => this.queue.add(key),
        log: this.o.log.child({ cluster: member.name, namespace, pod: pod.metadata.name }),
      });
      run.containers.set(container.name, sup);
    }
    this.running.set(key, run);
    for (const c of run.containers.values()) c.start();
    this.o.log.info({ cluster: member.name, namespace, pod: pod.metadata.name, loopback }, 'pod started');
    this.publish();
    return run;
  }

  private async stopPod(key: string, run: RunningPod, gone: boolean): Promise<void> {
    const grace = graceMs(run.pod);
    await Promise.all([...run.containers.values()].map((c) => c.stop(grace)));
    this.running.delete(key);
    this.used.get(run.member.name)?.delete(run.hostOctet);
    if (gone) rmSync(run.logDir, { recursive: true, force: true });
    this.o.log.info({ cluster: run.member.name, namespace: run.namespace, pod: run.name }, 'pod stopped');
    this.publish();
  }

  /** kwok serves `kubectl logs` from the files a `Logs` object names (owned by the pod, so GC'd with it). */
  private async applyLogs(
    run: RunningPod,
    containers: readonly string[],
    logFile: (c: string) => string,
    previousLogFile: (c: string) => string,
  ): Promise<void> {
    const logs: KubeObject = {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'Logs',
      metadata: {
        name: run.name,
        namespace: run.namespace,
        ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: run.name, uid: run.uid }],
      },
      spec: {
        logs: containers.map((c) => ({
          containers: [c],
          logsFile: logFile(c),
          previousLogsFile: previousLogFile(c),
          follow: true,
        })),
      },
    };
    try {
      await run.member.client.apply(logs, { fieldManager: FIELD_MANAGER, force: true });
    } catch (e) {
      this.o.log.warn(
        { cluster: run.member.name, pod: run.name, err: errorMessage(e) },
        'cannot publish pod logs',
      );
    }
  }

  /** Resolves env (fresh ConfigMaps/Secrets/Services) and the argv for one start of a container. */
  private async prepare(run: RunningPod, container: Container, image: LocalImage): Promise<PrepareResult> {
    const pod = run.pod;
    const client = run.member.client;
    const configMaps = new Map<string, Record<string, string> | undefined>();
    const secrets = new Map<string, Record<string, string> | undefined>();
    const refs = [
      ...(container.envFrom ?? []).map((f) => [f.configMapRef?.name, f.secretRef?.name] as const),
      ...(container.env ?? []).map(
        (e) => [e.valueFrom?.configMapKeyRef?.name, e.valueFrom?.secretKeyRef?.name] as const,
      ),
    ];
    for (const [cm, secret] of refs) {
      if (cm && !configMaps.has(cm)) {
        const o = await client.get<KubeObject>('v1', 'ConfigMap', cm, run.namespace);
        configMaps.set(cm, o ? ((o['data'] as Record<string, string> | undefined) ?? {}) : undefined);
      }
      if (secret && !secrets.has(secret)) {
        const o = await client.get<KubeObject>('v1', 'Secret', secret, run.namespace);
        const data = (o?.['data'] as Record<string, string> | undefined) ?? {};
        secrets.set(
          secret,
          o
            ? Object.fromEntries(
                Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
              )
            : undefined,
        );
      }
    }
    const services = this.services?.inNamespace(run.member.name, run.namespace) ?? [];
    const resolved = containerEnv(
      pod,
      container,
      { configMap: (n) => configMaps.get(n), secret: (n) => secrets.get(n) },
      services,
    );
    if (!resolved.ok) return { ok: false, reason: 'CreateContainerConfigError', message: resolved.error };
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: homedir(),
      HOSTNAME: pod.metadata.name,
      ...image.env,
      ...resolved.env,
      ...this.extraEnv?.(run.member.name, run.namespace),
      MERIDIAN_POD_ADDRESS: run.loopback,
      MERIDIAN_LOOPBACK_ONLY: '1',
      [POD_PROCESS_MARKER]: this.o.fleetDir,
    };
    const expand = (s: string): string => expandEnvRefs(s, env);
    if (image.builtin === 'postgres') {
      const ports = container.ports ?? [];
      const port = (ports.find((p) => p.name === 'postgres') ?? ports[0])?.containerPort ?? 5432;
      const extra = [...(container.command ?? []), ...(container.args ?? [])].map(expand);
      if (extra[0] === 'postgres') extra.shift();
      const volume = join(this.o.fleetDir, run.member.name, 'volumes', run.namespace, run.name);
      const pg = await preparePostgres(volume, env, run.loopback, port);
      return {
        ok: true,
        plan: {
          argv: [...pg.argv, ...extra],
          env: { ...env, ...pg.env },
          cwd: volume,
          stopSignal: image.stopSignal,
        },
      };
    }
    const argv = containerArgv(image, container.command, container.args).map(expand);
    if (argv[0] === 'node') {
      argv[0] = process.execPath;
      const preloads = [LISTEN_PRELOAD, DIAL_PRELOAD, ...this.preloads].map((p) => `--import=${p}`).join(' ');
      env['NODE_OPTIONS'] = env['NODE_OPTIONS'] ? `${preloads} ${env['NODE_OPTIONS']}` : preloads;
    }
    return { ok: true, plan: { argv, env, cwd: image.workingDir, stopSignal: image.stopSignal } };
  }

  /**
   * Writes the pod's status when it differs from what this runtime wrote last, or when the API
   * server holds other conditions: like the kubelet, it re-asserts what it sees after someone else
   * (the node lifecycle controller, after a control-plane outage) marked the pod not ready.
   */
  private async writeStatus(run: RunningPod): Promise<void> {
    const pod = run.pod;
    const views: ContainerView[] = pod.spec.containers.map(
      (c) => run.containers.get(c.name)?.view() ?? sidecarView(c, pod),
    );
    const status = podStatus(pod, views, new Date().toISOString());
    const signature = JSON.stringify({
      ...status,
      conditions: status.conditions?.map((c) => ({ ...c, lastTransitionTime: undefined })),
    });
    const conditionsOf = (conds: readonly { type: string; status: string }[] | undefined): string =>
      JSON.stringify((conds ?? []).map((c) => [c.type, c.status]).sort());
    const liveAgrees =
      pod.status?.phase === status.phase &&
      conditionsOf(pod.status?.conditions) === conditionsOf(status.conditions);
    if (signature === run.lastWritten && liveAgrees) return;
    const path = `${await run.member.client.path('v1', 'Pod', run.namespace, run.name)}/status`;
    try {
      await run.member.client.rest.request('PATCH', path, {
        body: { status },
        contentType: 'application/merge-patch+json',
        query: { fieldManager: FIELD_MANAGER },
      });
      run.lastWritten = signature;
      this.publish();
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}

/** The grace period of a pod being stopped: the deletion's, else the spec's (30 s by default). */
export function graceMs(pod: PodObject): number {
  const s =
    (pod.metadata['deletionGracePeriodSeconds'] as number | undefined) ??
    pod.spec.terminationGracePeriodSeconds ??
    30;
  return Math.max(0, s) * 1000;
}

/** A container of a runtime pod whose image is not local: it runs nowhere, shown as running and ready. */
function sidecarView(c: Container, pod: PodObject): ContainerView {
  const startedAt = pod.status?.startTime ?? new Date().toISOString();
  return {
    name: c.name,
    image: c.image,
    state: { running: { startedAt } },
    lastState: {},
    restartCount: 0,
    ready: true,
    started: true,
  };
}
