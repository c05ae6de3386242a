// `meridian hub`: the controller manager process.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseGeoTable } from '../traffic/routing/index.ts';
import { join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { HubFlags } from './hub-connection.ts';
import { intOption } from './options.ts';
import { parseDurationMs } from '../observe/metrics/prom-params.ts';
import { parseByteSize, parseDurationUs } from '../observe/traces/trace-query.ts';

function durationOption(flag: string) {
  return (v: string): number => {
    const us = parseDurationUs(v);
    if (us === undefined || us < 1000)
      throw new InvalidArgumentError(`${flag} must be a duration such as 72h or 30m`);
    return Math.round(us / 1000);
  };
}
function sizeOption(flag: string) {
  return (v: string): number => {
    const n = parseByteSize(v);
    if (n === undefined || n < 1)
      throw new InvalidArgumentError(`${flag} must be a size such as 1Gi, 512Mi or 20MB`);
    return n;
  };
}

function metricsTimeoutOption(v: string): number {
  const ms = parseDurationMs(v);
  if (ms === undefined || ms < 100 || ms > 600_000)
    throw new InvalidArgumentError(
      '--metrics-member-timeout must be a duration between 100ms and 10m, e.g. 10s',
    );
  return ms;
}

function workersOption(flag: string) {
  return (v: string): number => {
    if (v === 'auto') return availableParallelism();
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 64)
      throw new InvalidArgumentError(`${flag} must be auto or a number of processes from 0 to 64`);
    return n;
  };
}

function hostPortOption(flag: string, example: string) {
  return (v: string): { host: string; port: number } => {
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(v);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw new InvalidArgumentError(`${flag} must be HOST:PORT, e.g. ${example}`);
    }
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
  };
}
const hostPort = hostPortOption('--listen', '127.0.0.1:7443');
const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** The environment variable of a `meridian hub` option: --dns-listen → MERIDIAN_HUB_DNS_LISTEN. */
export function hubEnvName(long: string): string {
  return `MERIDIAN_HUB_${long.replace(/^--/, '').replace(/-/g, '_').toUpperCase()}`;
}

/** Adds the options and action of `meridian hub` (declared, with its description, in program.ts). */
export function registerHubCommand(hub: Command): void {
  // A pod is configured through its environment as often as through args: every option can come
  // from MERIDIAN_HUB_<OPTION> (an argument on the command line wins), and --help says which.
  // Commander wires an option's environment variable when the option is added, so name it there.
  const addOption = hub.addOption.bind(hub);
  hub.addOption = (o: Option): Command => addOption(o.long && !o.envVar ? o.env(hubEnvName(o.long)) : o);
  hub
    .addOption(
      new Option('--listen <host:port>', 'address of the HTTP API, health and metrics')
        .argParser(hostPort)
        // Shown as written, not as the parsed object.
        .default(hostPort('127.0.0.1:7443'), '127.0.0.1:7443'),
    )
    .option(
      '--tls-cert <file>',
      'serve the HTTP API over TLS with this certificate (needs --tls-key); without it the hub makes a self-signed one in <data-dir>/tls (ca.crt is what clients trust)',
    )
    .option('--tls-key <file>', 'private key for --tls-cert')
    .option(
      '--plain-http',
      'serve the HTTP API without TLS (the local fleet, or behind a proxy that terminates TLS)',
    )
    .option('--identity <id>', 'leader-election identity (default: hostname-pid-random)')
    .option(
      '--local-source-root <dir>',
      'let Applications use local chart/kustomize paths inside this directory (development; off by default)',
    )
    .option(
      '--dns-listen <host:port>',
      'serve the GSLB DNS (UDP and TCP) here, e.g. 0.0.0.0:53 (off when unset)',
      hostPortOption('--dns-listen', '127.0.0.1:8053'),
    )
    .option(
      '--dns-zone <zone>',
      'zone the GSLB DNS is authoritative for (repeatable; needs --dns-listen)',
      collect,
    )
    .option(
      '--dns-nameserver-address <ip>',
      'address of ns1.<first zone> for glue records (repeatable)',
      collect,
    )
    .option(
      '--dns-workers <n|auto>',
      "answer DNS in n worker processes sharing the port, so no query can stall the hub's controllers " +
        '(default 1; auto: one per core; 0: in the hub process)',
      workersOption('--dns-workers'),
    )
    .option(
      '--edge-listen <host:port>',
      'serve the edge gateway (HTTP) here, e.g. 0.0.0.0:80 (off when unset)',
      hostPortOption('--edge-listen', '127.0.0.1:8000'),
    )
    .option(
      '--edge-tls-listen <host:port>',
      "serve the edge gateway over TLS here, with each GlobalIngress's spec.tls Secret (needs --edge-listen)",
      hostPortOption('--edge-tls-listen', '127.0.0.1:8443'),
    )
    .option(
      '--edge-workers <n|auto>',
      'proxy edge requests in n worker processes sharing the edge listeners, each with its own ' +
        'connection pools and outlier records (default 1; auto: one per core; 0: in the hub process)',
      workersOption('--edge-workers'),
    )
    .option(
      '--geo-table <file>',
      'YAML map of client networks to regions for the Geo strategy (format in the README, Global traffic)',
    )
    .option('--data-dir <dir>', 'directory of the embedded trace store (default: a temporary directory)')
    // Checked when the traces service starts, not by an argument parser: commander would print the
    // rejected value, password included.
    .option(
      '--trace-database-url <url>',
      'store traces in this PostgreSQL database (postgres://user:password@host:5432/db) instead of the embedded SQLite store; replicas share it',
    )
    .option(
      '--trace-retention <duration>',
      'delete spans older than this, e.g. 72h (default 72h)',
      durationOption('--trace-retention'),
    )
    .option(
      '--trace-max-bytes <size>',
      'keep the trace store under this size, oldest spans deleted first (default 1Gi)',
      sizeOption('--trace-max-bytes'),
    )
    .addOption(
      new Option('--trace-retention-interval <duration>', 'how often trace retention runs (default 1m)')
        .argParser(durationOption('--trace-retention-interval'))
        .hideHelp(),
    )
    .addOption(
      new Option('--otlp-max-body <size>', 'largest OTLP request body, compressed or not (default 16Mi)')
        .argParser(sizeOption('--otlp-max-body'))
        .hideHelp(),
    )
    .addOption(
      new Option('--otlp-max-spans <n>', 'most spans in one OTLP request (default 20000)')
        .argParser(intOption('--otlp-max-spans', 1, 10_000_000))
        .hideHelp(),
    )
    .addOption(
      new Option(
        '--otlp-writer-spans-per-second <n>',
        'spans per second one OTLP writer (token) may send; past it 429 with Retry-After (default 20000)',
      )
        .argParser(intOption('--otlp-writer-spans-per-second', 1, 100_000_000))
        .hideHelp(),
    )
    .option(
      '--metrics-member-timeout <duration>',
      "how long the fleet metrics API waits for each member's Prometheus before answering without it, e.g. 10s (default 10s)",
      metricsTimeoutOption,
    )
    .addOption(
      new Option(
        '--metrics-query-timeout <duration>',
        'longest one PromQL engine call (plan, evaluate) may run before the engine is restarted and the query answered 503 timeout (default 30s)',
      ).argParser((v: string): number => {
        const ms = parseDurationMs(v);
        if (ms === undefined || ms < 100 || ms > 600_000)
          throw new InvalidArgumentError(
            '--metrics-query-timeout must be a duration between 100ms and 10m, e.g. 30s',
          );
        return ms;
      }),
    )
    .addOption(
      new Option(
        '--metrics-max-central-samples <n>',
        'raw samples one centrally evaluated PromQL query may fetch from the members (default 5000000)',
      )
        .argParser(intOption('--metrics-max-central-samples', 1, 1_000_000_000))
        .hideHelp(),
    )
    .option(
      '--no-metrics-partial-response',
      "fail a metrics query with 503 when any member's Prometheus does not answer, instead of answering without it and a warning (a request's partial_response=true|false overrides)",
    )
    .option('--lease-duration <seconds>', 'leader lease duration', intOption('--lease-duration', 2, 300), 10)
    .addOption(new Option('--state-dir <dir>', 'write hub.json (listen address) here').hideHelp())
    .action(
      async (
        opts: {
          listen: { host: string; port: number };
          tlsCert?: string;
          tlsKey?: string;
          plainHttp?: boolean;
          identity?: string;
          leaseDuration: number;
          stateDir?: string;
          localSourceRoot?: string;
          dnsListen?: { host: string; port: number };
          dnsZone?: string[];
          dnsNameserverAddress?: string[];
          dnsWorkers?: number;
          geoTable?: string;
          edgeListen?: { host: string; port: number };
          edgeTlsListen?: { host: string; port: number };
          edgeWorkers?: number;
          dataDir?: string;
          traceDatabaseUrl?: string;
          traceRetention?: number;
          traceMaxBytes?: number;
          traceRetentionInterval?: number;
          otlpMaxBody?: number;
          otlpMaxSpans?: number;
          otlpWriterSpansPerSecond?: number;
          metricsMemberTimeout?: number;
          metricsMaxCentralSamples?: number;
          metricsQueryTimeout?: number;
          metricsPartialResponse: boolean;
        },
        cmd: Command,
      ) => {
        if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) {
          throw new InvalidArgumentError('--tls-cert and --tls-key go together');
        }
        if (opts.plainHttp && opts.tlsCert) {
          throw new InvalidArgumentError('--plain-http and --tls-cert exclude each other');
        }
        if (opts.dnsListen && !opts.dnsZone?.length) {
          throw new InvalidArgumentError('--dns-listen needs at least one --dns-zone');
        }
        if (opts.dnsWorkers !== undefined && !opts.dnsListen) {
          throw new InvalidArgumentError('--dns-workers needs --dns-listen');
        }
        if (opts.edgeTlsListen && !opts.edgeListen) {
          throw new InvalidArgumentError('--edge-tls-listen needs --edge-listen');
        }
        if (opts.edgeWorkers !== undefined && !opts.edgeListen) {
          throw new InvalidArgumentError('--edge-workers needs --edge-listen');
        }
        const geoTable = opts.geoTable ? parseGeoTable(readFileSync(opts.geoTable, 'utf8')) : undefined;
        // The hub and the Kubernetes client load only to run, not for `meridian hub --help`.
        const [{ runHub }, { createLogger }, { hubClient }, { ensureSelfSignedApiTls }] = await Promise.all([
          import('../hub/hub.ts'),
          import('../logging/logger.ts'),
          import('./hub-connection.ts'),
          import('../hub/api-tls.ts'),
        ]);
        const log = createLogger('meridian-hub');
        // TLS unless told otherwise: the given certificate, else one of the hub's own.
        let tls = opts.tlsCert && opts.tlsKey ? { certFile: opts.tlsCert, keyFile: opts.tlsKey } : undefined;
        if (!tls && !opts.plainHttp) {
          const dir = opts.dataDir
            ? join(resolve(opts.dataDir), 'tls')
            : mkdtempSync(join(tmpdir(), 'meridian-hub-tls-'));
          const made = await ensureSelfSignedApiTls(dir, opts.listen.host);
          tls = made;
          log.info(
            { caFile: made.caFile, generated: made.generated },
            'no --tls-cert: serving the API with a self-signed certificate; clients trust caFile (or give --tls-cert, or --plain-http)',
          );
        }
        const hub = hubClient(cmd.optsWithGlobals<HubFlags>());
        const abort = new AbortController();
        const stop = (sig: string): void => {
          log.info({ signal: sig }, 'shutting down');
          abort.abort();
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
        await runHub({
          hub,
          log,
          listenHost: opts.listen.host,
          listenPort: opts.listen.port,
          tls,
          identity: opts.identity,
          leaseDurationSeconds: opts.leaseDuration,
          localSourceRoot: opts.localSourceRoot ? resolve(opts.localSourceRoot) : undefined,
          dns: opts.dnsListen
            ? {
                ...opts.dnsListen,
                zones: opts.dnsZone ?? [],
                nameserverAddresses: opts.dnsNameserverAddress,
                workers: opts.dnsWorkers,
              }
            : undefined,
          geoTable,
          edge: opts.edgeListen
            ? { http: opts.edgeListen, https: opts.edgeTlsListen, workers: opts.edgeWorkers }
            : undefined,
          observe: {
            dataDir: opts.dataDir ? resolve(opts.dataDir) : undefined,
            traceDatabaseUrl: opts.traceDatabaseUrl,
            traceRetentionMs: opts.traceRetention,
            traceMaxBytes: opts.traceMaxBytes,
            traceRetentionIntervalMs: opts.traceRetentionInterval,
            otlpMaxBodyBytes: opts.otlpMaxBody,
            otlpMaxSpans: opts.otlpMaxSpans,
            otlpWriterSpansPerSecond: opts.otlpWriterSpansPerSecond,
            metricsMemberTimeoutMs: opts.metricsMemberTimeout,
            metricsMaxCentralSamples: opts.metricsMaxCentralSamples,
            metricsQueryTimeoutMs: opts.metricsQueryTimeout,
            metricsPartialResponse: opts.metricsPartialResponse,
          },
          signal: abort.signal,
          onListening: (a) => {
            if (opts.stateDir) writeFileSync(join(opts.stateDir, 'hub.json'), JSON.stringify(a));
          },
        });
      },
    );
}
