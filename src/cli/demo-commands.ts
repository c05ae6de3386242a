// `meridian demo …`: the reference system's live traffic and failure scenarios on the local fleet.
import type { Command } from 'commander';
import { setLoopbackOnly } from '../dial/dial-guard.ts';
import { MeridianError } from '../kube/errors.ts';
import { DEMO_TRAFFIC, fleetDir, readFleetState } from '../localfleet/fleet.ts';
import { LOCAL_EDGE } from '../localfleet/layout.ts';
import { isAlive, readPid } from '../localfleet/processes.ts';
import { readFaults } from '../localfleet/fault-file.ts';
import {
  drain,
  failCluster,
  failService,
  recoverCluster,
  recoverRelease,
  recoverService,
  localDemoContext,
  referenceHost,
  releaseBad,
  type DemoContext,
} from '../localfleet/demo/scenarios.ts';
import { TrafficGenerator } from '../localfleet/demo/traffic-generator.ts';
import { describeSummary, readTrafficStats, summarize } from '../localfleet/demo/traffic-stats.ts';
import { intOption } from './options.ts';

const say = (m: string): void => void process.stdout.write(`${m}\n`);

function demoContext(): DemoContext {
  setLoopbackOnly(true);
  return localDemoContext(fleetDir(), say);
}

/** Adds the subcommands of `meridian demo` (declared, with its description, in program.ts). */
export function registerDemoCommands(demo: Command): void {
  demo
    .command('traffic')
    .description(
      'send shop traffic through the edge gateway (list items, place and read orders) and report who served it',
    )
    .option('--rps <n>', 'requests per second (1–200)', intOption('--rps', 1, 200), 3)
    .option('--duration <seconds>', 'stop after this long', intOption('--duration', 1, 7 * 24 * 3600), 60)
    .option(
      '--target <url>',
      'where requests go (loopback): the edge gateway or one ingress address',
      `http://${LOCAL_EDGE}`,
    )
    .option('--quiet', 'no line every 5 s (the stats file still says everything)')
    .action(async (opts: { rps: number; duration: number; target: string; quiet?: boolean }) => {
      setLoopbackOnly(true);
      const dir = readFleetState(fleetDir()) ? fleetDir() : undefined;
      const host = referenceHost();
      const gen = new TrafficGenerator({
        target: new URL(opts.target),
        host,
        rps: opts.rps,
        durationMs: opts.duration * 1000,
        ...(dir ? { fleetDir: dir } : {}),
      });
      const started = Date.now();
      let from = started;
      const report = opts.quiet
        ? undefined
        : setInterval(() => {
            const now = Date.now();
            say(
              `${((now - started) / 1000).toFixed(0)} s: ${describeSummary(summarize(gen.current.recent, from, now))}`,
            );
            from = now;
          }, 5_000);
      const stop = (): void => gen.stop();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      say(`sending ${opts.rps} requests/s to ${opts.target} (Host: ${host}) for ${opts.duration} s`);
      await gen.run();
      if (report) clearInterval(report);
      const st = gen.current;
      say(
        `done: ${st.sent} requests, ${st.failed} failed; by APP 1 cluster ${JSON.stringify(st.byApp1Cluster)}`,
      );
    });

  demo
    .command('status')
    .description('what the traffic generator saw lately and what is broken on purpose')
    .option('--window <seconds>', 'how far back to summarise', intOption('--window', 1, 600), 30)
    .action((opts: { window: number }) => {
      const dir = fleetDir();
      const st = readTrafficStats(dir);
      const pid = readPid({ dir, name: DEMO_TRAFFIC });
      const running = pid !== undefined && isAlive(pid);
      if (!st)
        say(
          `no demo traffic yet${running ? '' : ' (`meridian fleet up` starts it; or `meridian demo traffic`)'}`,
        );
      else {
        say(
          `traffic generator: ${running ? `running (pid ${pid})` : 'stopped'}, ${st.rps} requests/s to ${st.target}`,
        );
        say(`  since start: ${st.sent} requests, ${st.failed} failed, ${st.orders.length} orders kept`);
        say(
          `  last ${opts.window} s: ${describeSummary(summarize(st.recent, Date.now() - opts.window * 1000))}`,
        );
      }
      const f = readFaults(dir);
      const broken = [...f.ingressDown.map((c) => `cluster ${c} (ingress down, API server stopped)`)];
      say(broken.length ? `broken on purpose: ${broken.join('; ')}` : 'nothing broken on purpose');
    });

  const fail = demo.command('fail').description('break one thing the way it breaks in production');
  fail
    .command('cluster')
    .description(
      'a whole cluster: its ingress stops answering and its API server stops; external traffic moves',
    )
    .argument('<cluster>', 'member cluster')
    .action(async (cluster: string) => void (await failCluster(demoContext(), cluster)));
  fail
    .command('service')
    .description(
      "a service in one cluster: its pods fail readiness; for app2, APP 1 there calls another cluster's APP 2",
    )
    .argument('<service>', 'Service of the reference system (namespace shop), e.g. app2')
    .requiredOption('--cluster <name>', 'member cluster')
    .action(
      async (service: string, opts: { cluster: string }) =>
        void (await failService(demoContext(), service, opts.cluster)),
    );

  const recover = demo.command('recover').description('undo `demo fail …` or `demo release bad`');
  recover
    .command('cluster')
    .argument('<cluster>', 'member cluster')
    .description('bring the cluster back')
    .action(async (cluster: string) => void (await recoverCluster(demoContext(), cluster)));
  recover
    .command('service')
    .argument('<service>', 'Service of the reference system (namespace shop)')
    .requiredOption('--cluster <name>', 'member cluster')
    .description("make the service's pods ready again")
    .action(
      async (service: string, opts: { cluster: string }) =>
        void (await recoverService(demoContext(), service, opts.cluster)),
    );
  recover
    .command('release')
    .argument('<which>', '`bad`')
    .description('apply the reference system as shipped again')
    .action(async (which: string) => {
      if (which !== 'bad')
        throw new MeridianError('Usage', `recover release ${which}: only \`bad\` is known`, 2);
      await recoverRelease(demoContext());
    });

  demo
    .command('release')
    .argument('<which>', '`bad`: APP 1 version 2, crashing in the canary cluster')
    .description('roll out a new revision that fails in one cluster and watch the fleet roll back everywhere')
    .action(async (which: string) => {
      if (which !== 'bad') throw new MeridianError('Usage', `release ${which}: only \`bad\` is known`, 2);
      await releaseBad(demoContext());
    });

  demo
    .command('drain')
    .argument('<cluster>', 'member cluster')
    .description('take the cluster out of global rotation (DNS and edge) on purpose')
    .action(async (cluster: string) => void (await drain(demoContext(), cluster, false)));
  demo
    .command('undrain')
    .argument('<cluster>', 'member cluster')
    .description('put the cluster back into rotation')
    .action(async (cluster: string) => void (await drain(demoContext(), cluster, true)));
}
