// `meridian logs -l SELECTOR …`: the logs of matching pods in every selected member, merged in
// time order with a [cluster] prefix. It reads the members directly with the credentials the hub
// stores (like `services`), through the same module the hub's HTTP API uses, so it works with
// no hub process running and keeps following while the hub is down.
import type { Command } from 'commander';
import { MeridianError } from '../kube/errors.ts';
import { createLogger } from '../logging/logger.ts';
import { FleetView } from '../observe/fleet-view.ts';
import { PodTopologyResolver, type WorkloadOf } from '../observe/topology/pod-topology-resolver.ts';
import { followLogs, queryLogs } from '../observe/logs/fleet-logs.ts';
import type { LogEvent } from '../observe/logs/log-event.ts';
import { CLI_PARAMS, parseLogQuery } from '../observe/logs/log-query.ts';
import { formatEvent } from '../observe/logs/log-format.ts';
import { hubClient, type HubFlags } from './hub-connection.ts';
import { EXIT } from './options.ts';

interface LogsFlags {
  selector?: string;
  namespace?: string;
  cluster: string[];
  allClusters?: boolean;
  since?: string;
  follow?: boolean;
  grep?: string;
  limit?: string;
  output: string;
  timestamps?: boolean;
}

const HUB_SYNC_TIMEOUT_MS = 15_000;
const WORKLOADS_SYNC_TIMEOUT_MS = 5_000;

async function openFleet(cmd: Command): Promise<FleetView> {
  const hub = hubClient(cmd.optsWithGlobals<HubFlags>());
  const log = createLogger('meridian-logs');
  // The CLI's own output is the logs; the view's retry chatter would only get in the way.
  log.level = 'error';
  const fleet = new FleetView(hub, log);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new MeridianError(
            'HubUnreachable',
            `the hub cluster at ${hub.rest.server} did not answer within ${HUB_SYNC_TIMEOUT_MS / 1000} s`,
          ),
        ),
      HUB_SYNC_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([fleet.start(), timeout]);
  } catch (e) {
    await fleet.stop();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return fleet;
}

/** Writes to stdout in large chunks: one write per line costs more than reading the logs. */
class Output {
  private buf: string[] = [];
  private closed = false;

  constructor(
    private readonly json: boolean,
    private readonly timestamps: boolean,
    onClosed: () => void,
  ) {
    process.stdout.on('error', () => {
      // The reader went away (`| head`): stop reading logs, quietly.
      this.closed = true;
      onClosed();
    });
  }

  event(ev: LogEvent): void {
    if (this.closed) return;
    if (ev.kind === 'warning' && !this.json) {
      this.flush();
      process.stderr.write(`warning: ${ev.cluster ? `${ev.cluster}: ` : ''}${ev.message}\n`);
      return;
    }
    this.buf.push(this.json ? JSON.stringify(ev) : formatEvent(ev, this.timestamps));
    if (this.buf.length >= 2_000) this.flush();
  }

  flush(): void {
    if (this.buf.length === 0 || this.closed) return;
    process.stdout.write(`${this.buf.join('\n')}\n`);
    this.buf = [];
  }
}

/** Adds the options and action of `meridian logs` (declared, with its description, in program.ts). */
export function registerLogsCommands(logs: Command): void {
  logs
    .option('-l, --selector <selector>', 'label selector of the pods (required), e.g. app=app2')
    .option('-n, --namespace <ns>', 'only this namespace (default: every namespace)')
    .option(
      '--cluster <name>',
      'only this member (repeat, or separate with commas)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--all-clusters', 'every member (the default)')
    .option('--since <duration|time>', 'only lines newer than a duration (10m, 1h30m) or an RFC 3339 time')
    .option('-f, --follow', 'keep streaming new lines (Ctrl-C to stop); survives member restarts')
    .option('--grep <regex>', 'only lines whose message matches this regular expression')
    .option('--limit <n>', 'only the newest n lines (of the backlog, with -f)')
    .option('--timestamps', 'start each line with its time')
    .option('-o, --output <format>', 'text, or json (one object per line: lines, markers, warnings)', 'text')
    .action(async (flags: LogsFlags, cmd: Command) => {
      if (flags.output !== 'text' && flags.output !== 'json')
        throw new MeridianError(
          'InvalidArgument',
          `-o/--output: must be text or json, got "${flags.output}"`,
          EXIT.usage,
        );
      const query = parseLogQuery(
        {
          selector: flags.selector,
          namespace: flags.namespace,
          clusters: flags.cluster,
          allClusters: flags.allClusters,
          since: flags.since,
          grep: flags.grep,
          limit: flags.limit,
        },
        CLI_PARAMS,
      );
      const fleet = await openFleet(cmd);
      // App and revision of each pod from its workload in each member (listed once).
      const workloads = new PodTopologyResolver(fleet, createLogger('meridian-logs'));
      workloads.start();
      await workloads.synced(WORKLOADS_SYNC_TIMEOUT_MS);
      const workloadOf: WorkloadOf = (cluster, namespace, pod) => workloads.resolve(cluster, namespace, pod);
      const abort = new AbortController();
      const out = new Output(flags.output === 'json', flags.timestamps === true, () => abort.abort());
      try {
        if (!flags.follow) {
          const r = await queryLogs(fleet, query, { names: CLI_PARAMS, signal: abort.signal, workloadOf });
          for (const w of r.warnings) out.event(w);
          for (const l of r.lines) out.event(l);
          out.flush();
          // Some clusters failing is a warning; all of them failing is a failure.
          if (r.failed.length > 0 && r.lines.length === 0 && r.failed.length >= r.clusters.length)
            process.exitCode = EXIT.failed;
          return;
        }
        const stop = (): void => abort.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        const flusher = setInterval(() => out.flush(), 100);
        try {
          await followLogs(fleet, query, { names: CLI_PARAMS, signal: abort.signal, workloadOf }, (ev) =>
            out.event(ev),
          );
        } finally {
          clearInterval(flusher);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          out.flush();
        }
      } finally {
        await workloads.stop();
        await fleet.stop();
      }
    });
}
