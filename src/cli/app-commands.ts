// `meridian app apply|status|history|diff|rollback`: the deploy service from the command line.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { API_VERSION } from '../api/group.ts';
import type { Application } from '../api/application.ts';
import type { ApplicationRevision } from '../api/application-revision.ts';
import { validateResource } from '../api/validate.ts';
import type { ClusterClient, KubeObject } from '../kube/cluster-client.ts';
import { MeridianError, errorMessage } from '../kube/errors.ts';
import { APPLICATION_LABEL } from '../api/labels.ts';
import { ROLLBACK_ANNOTATION } from '../api/labels.ts';
import { changedSecrets, type ClusterObjects } from '../deploy/revision-secrets.ts';
import { withStoredSecrets } from '../deploy/revisions.ts';
import { driftedFields } from '../deploy/drift.ts';
import { objectRef } from '../kube/objects.ts';
import { ClusterClient as Client, loadKubeConfig } from '../kube/cluster-client.ts';
import type { Cluster } from '../api/cluster.ts';
import { printTable } from './table.ts';
import { hubClient, type HubFlags } from './hub-connection.ts';
import { sleep } from '../kube/sleep.ts';

/** The CLI's own field manager, so it never takes fields (like finalizers) the controller owns. */
const CLI_MANAGER = 'meridian-cli';

function readApplications(file: string): Application[] {
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (e) {
    throw new MeridianError(
      'FileNotFound',
      `${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? errorMessage(e)})`,
    );
  }
  const docs = parseAllDocuments(text);
  const out: Application[] = [];
  // Every problem of every document at once: fixing one at a time is slow.
  const problems: string[] = [];
  docs.forEach((d, i) => {
    if (d.errors.length > 0) {
      problems.push(...d.errors.map((e) => `${file}: document ${i + 1}: ${e.message.split('\n')[0]}`));
      return;
    }
    const obj = d.toJS() as unknown;
    if (obj === null || obj === undefined) return;
    const v = validateResource('Application', obj);
    if (!v.ok) problems.push(...v.messages.map((m) => `${file}: ${m}`));
    else out.push(obj as Application);
  });
  if (problems.length > 0) {
    const yaml = docs.some((d) => d.errors.length > 0);
    throw new MeridianError(yaml ? 'InvalidYaml' : 'Invalid', problems.join('\n'), 2);
  }
  if (out.length === 0) throw new MeridianError('Invalid', `${file}: no Application in it`, 2);
  return out;
}

async function getApp(hub: ClusterClient, name: string, ns: string): Promise<Application> {
  const app = await hub.get<Application & KubeObject>(API_VERSION, 'Application', name, ns);
  if (!app) throw new MeridianError('NotFound', `Application ${ns}/${name} does not exist`, 3);
  return app;
}

async function memberClient(hub: ClusterClient, cluster: string): Promise<ClusterClient> {
  const c = await hub.get<Cluster & KubeObject>(API_VERSION, 'Cluster', cluster);
  if (!c) throw new MeridianError('NotFound', `cluster ${cluster} does not exist`, 3);
  const ref = c.spec.kubeconfigSecretRef;
  const secret = await hub.get<KubeObject & { data?: Record<string, string> }>(
    'v1',
    'Secret',
    ref.name,
    ref.namespace,
  );
  const data = secret?.data?.[ref.key];
  if (!data)
    throw new MeridianError(
      'CredentialsMissing',
      `cluster ${cluster}: credentials secret ${ref.namespace}/${ref.name} is missing`,
    );
  return new Client(
    cluster,
    loadKubeConfig({ yaml: Buffer.from(data, 'base64').toString() }, c.spec.context),
  );
}

/** Adds the subcommands of `meridian app` (declared, with its description, in program.ts). */
export function registerAppCommands(app: Command): void {
  const nsOpt = (c: Command): Command =>
    c.option('-n, --namespace <ns>', 'namespace of the Application', 'default');

  nsOpt(
    app
      .command('apply')
      .description('create or update Applications from a YAML file (validated before anything is sent)')
      .requiredOption('-f, --filename <file>', 'YAML file with one or more Applications ("-" for stdin)'),
  ).action(async (opts: { filename: string; namespace: string }, cmd: Command) => {
    const apps = readApplications(opts.filename);
    const hub = hubClient(cmd.optsWithGlobals<HubFlags>());
    for (const a of apps) {
      a.metadata.namespace ??= opts.namespace;
      await hub.apply(a as unknown as KubeObject, { fieldManager: CLI_MANAGER, force: true });
      process.stdout.write(`application ${a.metadata.namespace}/${a.metadata.name} applied\n`);
    }
  });

  nsOpt(app.command('status').description('per-cluster rollout state of an Application').argument('<name>'))
    .option('-w, --watch', 'keep printing until the rollout settles')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(
      async (name: string, opts: { namespace: string; watch?: boolean; output: string }, cmd: Command) => {
        const hub = hubClient(cmd.optsWithGlobals<HubFlags>());
        for (;;) {
          const a = await getApp(hub, name, opts.namespace);
          const st = a.status;
          if (opts.output === 'json') process.stdout.write(`${JSON.stringify(st ?? {}, null, 2)}\n`);
          else {
            process.stdout.write(
              `Application ${opts.namespace}/${name}: revision ${st?.revision ?? '-'}, phase ${st?.phase ?? 'Pending'}, ready ${st?.readyClusters ?? '0/0'}\n`,
            );
            const rows = [['CLUSTER', 'REVISION', 'PHASE', 'DRIFTED', 'MESSAGE']];
            for (const c of st?.clusters ?? []) {
              rows.push([
                c.name,
                c.revision === undefined ? '-' : String(c.revision),
                c.phase,
                c.drifted ? 'yes' : 'no',
                c.message ?? '',
              ]);
            }
            printTable(rows);
            // Only the conditions that say something is going on or wrong.
            for (const c of st?.conditions ?? []) {
              const notable = c.type === 'Ready' ? c.status !== 'True' : c.status === 'True';
              if (notable) process.stdout.write(`  ${c.type}=${c.status} ${c.reason}: ${c.message}\n`);
            }
          }
          const settled = st?.phase && !['Progressing', 'RollingBack'].includes(st.phase);
          if (!opts.watch || settled) break;
          await sleep(1_000);
          process.stdout.write('\n');
        }
      },
    );

  nsOpt(
    app.command('history').description('revisions of an Application and how each ended').argument('<name>'),
  ).action(async (name: string, opts: { namespace: string }, cmd: Command) => {
    const hub = hubClient(cmd.optsWithGlobals<HubFlags>());
    const a = await getApp(hub, name, opts.namespace);
    const revs = await hub.list<ApplicationRevision & KubeObject>(API_VERSION, 'ApplicationRevision', {
      namespace: opts.namespace,
      labelSelector: `${APPLICATION_LABEL}=${name}`,
    });
    const commit = new Map(revs.items.map((r) => [r.spec.revision, r.spec.sourceCommit ?? '']));
    // Which Secrets changed from the stored revision before: names and keys, never values (the
    // revisions hold keyed digests of them).
    const byNumber = new Map(revs.items.map((r) => [r.spec.revision, r]));
    const numbers = [...byNumber.keys()].sort((x, y) => x - y);
    const secretChanges = new Map<number, string[]>();
    for (const [i, n] of numbers.entries()) {
      const prev = i > 0 ? byNumber.get(numbers[i - 1]!) : undefined;
      const clusters = (r: ApplicationRevision): ClusterObjects =>
        r.spec.clusters as unknown as ClusterObjects;
      secretChanges.set(n, changedSecrets(prev && clusters(prev), clusters(byNumber.get(n)!)));
    }
    const rows = [
      ['REVISION', 'DIGEST', 'OUTCOME', 'STARTED', 'FINISHED', 'COMMIT', 'STORED', 'SECRETS CHANGED'],
    ];
    for (const h of [...(a.status?.history ?? [])].reverse()) {
      const changed = secretChanges.get(h.revision);
      rows.push([
        String(h.revision),
        h.digest.slice(0, 19),
        h.outcome,
        h.startedAt ?? '-',
        h.finishedAt ?? '-',
        (commit.get(h.revision) ?? '').slice(0, 12) || '-',
        commit.has(h.revision) ? 'yes' : 'pruned',
        changed === undefined ? '?' : changed.join('; ') || '-',
      ]);
    }
    printTable(rows);
    const blocked = (a.status?.history ?? []).find((h) => h.digest === a.status?.blockedDigest);
    if (blocked)
      process.stdout.write(
        `\nrevision ${blocked.revision} is blocked: ${a.status?.rollbackCause ?? 'rolled back'}; clusters run revision ${a.status?.runningRevision ?? a.status?.lastGoodRevision ?? '-'}, and the blocked content is not rolled out again until the spec changes\n`,
      );
  });

  nsOpt(
    app
      .command('diff')
      .description('per-cluster difference between the current revision and the live objects')
      .argument('<name>'),
  )
    .option('--cluster <name>', 'only this cluster')
    .action(async (name: string, opts: { namespace: string; cluster?: string }, cmd: Command) => {
      const hub = hubClient(cmd.optsWithGlobals<HubFlags>());
      const a = await getApp(hub, name, opts.namespace);
      const st = a.status;
      if (st?.revision === undefined)
        throw new MeridianError('NotReady', `Application ${opts.namespace}/${name} has no revision yet`, 3);
      // Each cluster is compared with what it runs: after a rollback that is not status.revision.
      if (st.blockedDigest && st.blockedDigest === st.digest)
        process.stdout.write(
          `# revision ${st.revision} is blocked (rolled back: ${st.rollbackCause ?? 'no cause recorded'}); it is not rolled out again until the spec changes\n`,
        );
      const revisionOf = new Map((st.clusters ?? []).map((c) => [c.name, c.revision ?? st.revision!]));
      const fetched = new Map<number, ApplicationRevision>();
      const revisionObjects = async (revNo: number) => {
        let full = fetched.get(revNo);
        if (!full) {
          const rev = await hub.get<ApplicationRevision & KubeObject>(
            API_VERSION,
            'ApplicationRevision',
            `${name}-${revNo}`,
            opts.namespace,
          );
          if (!rev) throw new MeridianError('NotFound', `revision ${revNo} of ${name} is not stored`, 3);
          // Secrets as rendered (the revision holds them redacted); only changed field names are shown.
          full = await withStoredSecrets(hub, rev);
          fetched.set(revNo, full);
        }
        return full;
      };
      const desired = await revisionObjects(st.revision);
      let differences = 0;
      for (const cluster of Object.keys(desired.spec.clusters)) {
        if (opts.cluster && cluster !== opts.cluster) continue;
        const revNo = revisionOf.get(cluster) ?? st.revision;
        const objects = (await revisionObjects(revNo)).spec.clusters[cluster] ?? [];
        const client = await memberClient(hub, cluster);
        process.stdout.write(`--- cluster ${cluster} (revision ${revNo})\n`);
        for (const o of objects as KubeObject[]) {
          const live = await client.get(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace);
          if (!live) {
            differences++;
            process.stdout.write(`+ ${objectRef(o)}: missing, would be created\n`);
            continue;
          }
          const wouldBe = await client.apply(o, { dryRun: true, force: true });
          const fields = driftedFields(live, wouldBe);
          if (fields.length > 0) {
            differences++;
            process.stdout.write(`~ ${objectRef(o)}: ${fields.join(', ')}\n`);
          }
        }
      }
      if (differences === 0) process.stdout.write('no differences\n');
      else process.exitCode = 1;
    });

  nsOpt(
    app
      .command('rollback')
      .description('put every cluster back on an earlier revision and hold it there until the spec changes')
      .argument('<name>'),
  )
    .option('--to <revision>', 'revision to go back to (default: the last one that was Healthy everywhere)')
    .action(async (name: string, opts: { namespace: string; to?: string }, cmd: Command) => {
      const hub = hubClient(cmd.optsWithGlobals<HubFlags>());
      const a = await getApp(hub, name, opts.namespace);
      if (opts.to !== undefined && !/^\d+$/.test(opts.to)) {
        throw new MeridianError('InvalidArgument', `--to: must be a revision number, got "${opts.to}"`, 2);
      }
      const status = a.status as { lastGoodRevision?: number } | undefined;
      const to =
        opts.to ?? (status?.lastGoodRevision !== undefined ? String(status.lastGoodRevision) : undefined);
      if (to === undefined)
        throw new MeridianError(
          'NotFound',
          `Application ${opts.namespace}/${name} has no Healthy revision to go back to`,
          3,
        );
      const rev = await hub.get(API_VERSION, 'ApplicationRevision', `${name}-${to}`, opts.namespace);
      if (!rev)
        throw new MeridianError(
          'NotFound',
          `revision ${to} of ${opts.namespace}/${name} is not stored (see \`meridian app history ${name}\`)`,
          3,
        );
      await hub.mergePatch(
        { apiVersion: API_VERSION, kind: 'Application', metadata: { name, namespace: opts.namespace } },
        { metadata: { annotations: { [ROLLBACK_ANNOTATION]: `${to}@${new Date().toISOString()}` } } },
        CLI_MANAGER,
      );
      process.stdout.write(
        `rollback of ${opts.namespace}/${name} to revision ${to} requested; follow it with \`meridian app status ${name} -w\`\n`,
      );
    });
}
