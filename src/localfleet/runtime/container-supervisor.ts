// One container of a pod the runtime runs, for the pod's whole life: start the process, write its
// output to the CRI log, run its startup/readiness/liveness probes, restart it by the pod's
// restart policy with the kubelet's CrashLoopBackOff, stop it with its stop signal and then
// SIGKILL after the grace period. Its state is read by the pod's status writer (`view`).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, renameSync } from 'node:fs';
import type { Logger } from 'pino';
import { errorMessage } from '../../kube/errors.ts';
import { sleep } from '../../kube/sleep.ts';
import { CriLogFile } from './cri-log.ts';
import type { Container, ContainerState, Probe } from './pod-object.ts';
import type { ContainerView, Simulate } from './pod-status.ts';
import {
  BACKOFF_RESET_MS,
  initialProbeState,
  nextProbeState,
  probeTiming,
  restartDelayMs,
} from './probe-state.ts';
import { runProbe, type ProbeTarget } from './probe-check.ts';

/** What to run for one start of the container (resolved afresh at each start, like the kubelet). */
export interface LaunchPlan {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly stopSignal: NodeJS.Signals;
}

export type PrepareResult = { ok: true; plan: LaunchPlan } | { ok: false; reason: string; message: string };

export interface ContainerSupervisorOptions {
  readonly container: Container;
  readonly restartPolicy: 'Always' | 'OnFailure' | 'Never';
  readonly loopback: string;
  readonly logFile: string;
  readonly previousLogFile: string;
  /** The count a restarted runtime carries on from the pod's status. */
  readonly initialRestartCount?: number;
  readonly graceMs: () => number;
  readonly simulate: () => Simulate;
  readonly prepare: () => Promise<PrepareResult>;
  readonly onChange: () => void;
  readonly log: Logger;
}

const now = (): string => new Date().toISOString();

export class ContainerSupervisor {
  private state: ContainerState = { waiting: { reason: 'ContainerCreating' } };
  private lastState: ContainerState = {};
  private restartCount = 0;
  private ready = false;
  private started = false;
  private finalExitCode: number | undefined;
  private child: ChildProcess | undefined;
  private lastPlan: LaunchPlan | undefined;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  /** Wakes the loop early (a simulate change, a stop). */
  private wake: (() => void) | undefined;

  constructor(private readonly o: ContainerSupervisorOptions) {
    this.restartCount = o.initialRestartCount ?? 0;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  view(): ContainerView {
    return {
      name: this.o.container.name,
      image: this.o.container.image,
      state: this.state,
      lastState: this.lastState,
      restartCount: this.restartCount,
      ready: this.ready,
      started: this.started,
      ...(this.finalExitCode !== undefined ? { finalExitCode: this.finalExitCode } : {}),
    };
  }

  start(): void {
    this.loop ??= this.run().catch((e: unknown) =>
      this.o.log.error({ err: errorMessage(e), container: this.o.container.name }, 'container loop failed'),
    );
  }

  /** The pod's annotations changed: re-check the simulated fault now. */
  poke(): void {
    this.wake?.();
    if (this.o.simulate() === 'crash' && this.child) void this.kill(this.o.graceMs());
  }

  /** Stops the process (stop signal, then SIGKILL after `graceMs`) and the loop. */
  async stop(graceMs: number): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.kill(graceMs);
    await this.loop;
  }

  private setState(state: ContainerState): void {
    this.state = state;
    this.o.onChange();
  }

  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let crashes = 0;
    while (!signal.aborted) {
      if (this.o.simulate() === 'crash') {
        this.ready = false;
        this.started = false;
        this.setState({
          waiting: { reason: 'CrashLoopBackOff', message: 'simulated crash (meridian.dev/simulate=crash)' },
        });
        await this.pause(1_000);
        continue;
      }
      const prepared = await this.o.prepare().catch((e: unknown): PrepareResult => ({
        ok: false,
        reason: 'RunContainerError',
        message: errorMessage(e),
      }));
      if (signal.aborted) break;
      if (!prepared.ok) {
        this.setState({ waiting: { reason: prepared.reason, message: prepared.message } });
        await this.pause(5_000);
        continue;
      }
      const startedAt = Date.now();
      const exit = await this.runOnce(prepared.plan);
      this.ready = false;
      this.started = false;
      const terminated = {
        exitCode: exit.code,
        ...(exit.signal ? { signal: exit.signal } : {}),
        reason: exit.code === 0 ? 'Completed' : 'Error',
        ...(exit.message ? { message: exit.message } : {}),
        startedAt: new Date(startedAt).toISOString(),
        finishedAt: now(),
      };
      if (signal.aborted) {
        this.state = { terminated };
        break;
      }
      const policy = this.o.restartPolicy;
      if (policy === 'Never' || (policy === 'OnFailure' && exit.code === 0)) {
        this.finalExitCode = exit.code;
        this.setState({ terminated });
        break;
      }
      this.lastState = { terminated };
      crashes = Date.now() - startedAt >= BACKOFF_RESET_MS ? 1 : crashes + 1;
      const delay = restartDelayMs(crashes);
      if (delay > 0) {
        this.setState({
          waiting: {
            reason: 'CrashLoopBackOff',
            message: `back-off ${delay / 1000}s restarting failed container=${this.o.container.name}`,
          },
        });
        const until = Date.now() + delay;
        while (!signal.aborted && Date.now() < until && this.o.simulate() !== 'crash')
          await this.pause(until - Date.now());
      }
      if (signal.aborted) break;
      this.restartCount++;
      this.rotateLog();
    }
  }

  private rotateLog(): void {
    try {
      if (existsSync(this.o.logFile)) renameSync(this.o.logFile, this.o.previousLogFile);
    } catch (e) {
      this.o.log.warn({ err: errorMessage(e) }, 'cannot keep the previous container log');
    }
  }

  /** Runs the process until it exits (or is killed); resolves with its exit. */
  private runOnce(plan: LaunchPlan): Promise<{ code: number; signal?: number; message?: string }> {
    this.lastPlan = plan;
    const logs = new CriLogFile(this.o.logFile);
    const [cmd, ...args] = plan.argv;
    let child: ChildProcess;
    try {
      child = spawn(cmd!, args, {
        cwd: plan.cwd,
        env: { ...plan.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, so a SIGKILL reaches everything it started.
        detached: true,
      });
    } catch (e) {
      logs.close();
      return Promise.resolve({ code: 128, message: errorMessage(e) });
    }
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => logs.write('stdout', d));
    child.stderr!.on('data', (d: Buffer) => logs.write('stderr', d));
    const probes = new AbortController();
    const exited = new Promise<{ code: number; signal?: number; message?: string }>((resolve) => {
      child.once('error', (e) => {
        resolve({ code: 128, message: `cannot start ${cmd}: ${e.message}` });
      });
      child.once('close', (code, sig) => {
        const signo = sig ? (SIGNAL_NUMBERS[sig] ?? 9) : undefined;
        resolve(code !== null ? { code } : { code: 128 + (signo ?? 9), ...(signo ? { signal: signo } : {}) });
      });
    });
    child.once('spawn', () => {
      this.started = !this.o.container.startupProbe;
      this.ready = this.started && !this.o.container.readinessProbe;
      this.setState({ running: { startedAt: now() } });
      void this.probeLoops(child, plan, probes.signal);
    });
    return exited.then((r) => {
      probes.abort();
      logs.close();
      this.child = undefined;
      return r;
    });
  }

  private async probeLoops(child: ChildProcess, plan: LaunchPlan, signal: AbortSignal): Promise<void> {
    const c = this.o.container;
    const target: ProbeTarget = {
      loopback: this.o.loopback,
      ports: c.ports ?? [],
      env: plan.env,
      cwd: plan.cwd,
    };
    if (c.startupProbe) {
      const passed = await this.probeUntil(c.startupProbe, 'startup', target, signal, (ok) => ok);
      if (!passed || signal.aborted) {
        if (!signal.aborted) await this.killFor(child, 'startup');
        return;
      }
      this.started = true;
      this.ready = !c.readinessProbe;
      this.o.onChange();
    }
    const loops: Promise<unknown>[] = [];
    if (c.readinessProbe) {
      loops.push(
        this.probeUntil(c.readinessProbe, 'readiness', target, signal, (ok) => {
          if (ok !== this.ready) {
            this.ready = ok;
            this.o.onChange();
          }
          return false;
        }),
      );
    }
    if (c.livenessProbe) {
      loops.push(
        this.probeUntil(c.livenessProbe, 'liveness', target, signal, (ok) => !ok).then(async (failed) => {
          if (failed && !signal.aborted) await this.killFor(child, 'liveness');
        }),
      );
    }
    await Promise.all(loops);
  }

  /**
   * Runs a probe every period until `stop(verdict)` says so or the run ends; returns whether it
   * stopped on the verdict.
   */
  private async probeUntil(
    probe: Probe,
    kind: 'readiness' | 'liveness' | 'startup',
    target: ProbeTarget,
    signal: AbortSignal,
    stop: (ok: boolean) => boolean,
  ): Promise<boolean> {
    const t = probeTiming(probe);
    let st = initialProbeState(kind);
    await sleep(t.initialDelayMs, signal);
    while (!signal.aborted) {
      const r = await runProbe(probe, target, t.timeoutMs).catch((e: unknown) => ({
        ok: false,
        message: errorMessage(e),
      }));
      if (signal.aborted) return false;
      st = nextProbeState(st, r.ok, t);
      if (!r.ok)
        this.o.log.debug({ container: this.o.container.name, kind, message: r.message }, 'probe failed');
      if (st.last === st.ok && stop(st.ok)) return true;
      await sleep(t.periodMs, signal);
    }
    return false;
  }

  private async killFor(child: ChildProcess, kind: string): Promise<void> {
    this.o.log.info(
      { container: this.o.container.name, pid: child.pid },
      `failed ${kind} probe, will be restarted`,
    );
    await this.kill(this.o.graceMs());
  }

  /** Stop signal to the process, SIGKILL to its group after `graceMs`; resolves once it is gone. */
  private async kill(graceMs: number): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('close', () => r()));
    try {
      process.kill(child.pid, this.lastPlan?.stopSignal ?? 'SIGTERM');
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, graceMs);
    await gone;
    clearTimeout(timer);
    // Anything the program left behind in its group goes with it.
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Nothing left.
    }
  }
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGTERM: 15,
  SIGABRT: 6,
};
