// An application delivered to many clusters: what to render, where, and how to roll it out.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import {
  CLUSTER_TARGET_RULE,
  celRule,
  ClusterNames,
  Conditions,
  DnsLabel,
  FreeForm,
  LabelSelector,
  Manifest,
  ObservedGeneration,
  Placement,
  StrictObject,
  Timestamp,
} from './common.ts';
import { AGE_COLUMN, resourceSchema } from './kind.ts';
import type { KindDefinition } from './kind.ts';

const HelmValues = FreeForm('Helm values, merged over the chart defaults.');
const ReleaseName = Type.Optional(DnsLabel('Helm release name; defaults to the Application name.'));
// Built-in values: meridian.{cluster,region,zone}, placed where the chart's values.schema.json allows.
const builtinValuesFields = {
  meridianValues: Type.Optional(
    Type.Boolean({
      default: true,
      description:
        "Give the chart Meridian's values meridian.{cluster,region,zone} (where its values.schema.json allows them: meridian, else global.meridian). false: none.",
    }),
  ),
  meridianValuesKey: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$',
      description:
        "Dotted values path for Meridian's built-in values, e.g. global.meridian or extraEnv.meridian.",
    }),
  ),
};

/** Inline Kubernetes objects, applied as they are. */
export const ManifestsSource = StrictObject({
  manifests: Type.Array(Manifest, { minItems: 1, description: 'Objects to apply, verbatim.' }),
});

/** A kustomization directory, rendered with `kustomize build`. */
export const KustomizeSource = StrictObject({
  kustomize: StrictObject(
    { path: Type.String({ minLength: 1, description: 'Kustomization directory.' }) },
    { description: 'Render a kustomization (kubectl kustomize): a local path or a remote target.' },
  ),
});

/** A Helm chart from a repository (or an OCI reference in `chart`). */
export const HelmSource = StrictObject({
  helm: StrictObject(
    {
      chart: Type.String({ minLength: 1, description: 'Chart name, path, or oci:// reference.' }),
      version: Type.Optional(Type.String({ minLength: 1, description: 'Chart version; latest if unset.' })),
      repoURL: Type.Optional(Type.String({ format: 'uri', description: 'Chart repository URL.' })),
      releaseName: ReleaseName,
      values: Type.Optional(HelmValues),
      ...builtinValuesFields,
    },
    {
      description:
        "Render a Helm chart per cluster with helm template (that cluster's values and Kubernetes version).",
    },
  ),
});

// url/ref/path are shared by every git flavour; the flavour key says how the directory is rendered.
const gitLocation = {
  url: Type.String({ minLength: 1, description: 'Clone URL of the repository.' }),
  ref: Type.Optional(Type.String({ minLength: 1, description: 'Branch, tag or commit; defaults to HEAD.' })),
  path: Type.Optional(
    Type.String({ minLength: 1, description: 'Directory in the repository; defaults to the root.' }),
  ),
};

/** A git directory of plain YAML files. */
export const GitManifests = StrictObject({
  ...gitLocation,
  manifests: StrictObject(
    { recurse: Type.Optional(Type.Boolean({ description: 'Include subdirectories.' })) },
    { description: 'Apply every YAML file in path.' },
  ),
});
/** A git directory holding a kustomization. */
export const GitKustomize = StrictObject({
  ...gitLocation,
  kustomize: StrictObject({}, { description: 'Render path with kustomize build.' }),
});
/** A git directory holding a Helm chart. */
export const GitHelm = StrictObject({
  ...gitLocation,
  helm: StrictObject(
    { releaseName: ReleaseName, values: Type.Optional(HelmValues), ...builtinValuesFields },
    { description: 'Render path as a Helm chart.' },
  ),
});

/** A git repository directory, rendered one of three ways. */
export const GitSpec = Type.Union([GitManifests, GitKustomize, GitHelm], {
  description: 'A directory in a git repository; set exactly one of manifests, kustomize or helm.',
});
/** A git repository directory, rendered one of three ways. */
export type GitSpec = Static<typeof GitSpec>;

/** Sources from git. */
export const GitSource = StrictObject({ git: GitSpec });

/** What to deploy: exactly one of manifests, kustomize, helm or git. */
export const ApplicationSource = Type.Union([ManifestsSource, KustomizeSource, HelmSource, GitSource], {
  description: 'What to deploy; set exactly one of manifests, kustomize, helm or git.',
});
/** What to deploy. Narrow it with {@link sourceType} and an exhaustive switch. */
export type ApplicationSource = Static<typeof ApplicationSource>;

/** The variant names of {@link ApplicationSource}. */
export type SourceType = 'manifests' | 'kustomize' | 'helm' | 'git';

/** Names the variant of a source, for an exhaustive `switch`. */
export function sourceType(source: ApplicationSource): SourceType {
  if ('manifests' in source) return 'manifests';
  if ('kustomize' in source) return 'kustomize';
  if ('helm' in source) return 'helm';
  return 'git';
}

// A repository name as written in image references: an optional registry host (with port),
// then slash-separated path components; no tag and no digest.
const IMAGE_NAME = '^([^\\s/:@]+(:[0-9]+)?/)?[^\\s:@]+$';

/** Rewrites one image everywhere it is used, with the semantics of kustomize's `images` field. */
export const ImageOverride = StrictObject({
  name: Type.String({
    minLength: 1,
    maxLength: 255,
    pattern: IMAGE_NAME,
    hint: 'an image repository without tag, such as example/app2',
    description:
      'Image repository as written in the manifests, without tag or digest (e.g. example/app2); every container image with this repository is rewritten.',
  }),
  newName: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: IMAGE_NAME,
      hint: 'an image repository without tag, such as registry.example.com/app2',
      description: 'Repository that replaces name (e.g. registry.example.com/team/app2).',
    }),
  ),
  newTag: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$',
      hint: 'an image tag such as 1.4.2',
      description: 'Tag that replaces the tag and digest of the image.',
    }),
  ),
  digest: Type.Optional(
    Type.String({
      pattern: '^[a-z0-9]+([+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$',
      hint: 'a digest such as sha256:0123…',
      description:
        'Digest (sha256:…) that replaces the tag and digest of the image; with newTag, both are kept.',
    }),
  ),
});
/** Rewrites one image everywhere it is used. */
export type ImageOverride = Static<typeof ImageOverride>;

/** Image rewrites, one entry per repository. */
function ImageOverrides(description: string) {
  return Type.Array(ImageOverride, {
    maxItems: 100,
    description,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
  });
}

/** Per-cluster changes layered over the rendered source. */
export const Override = StrictObject(
  {
    clusters: Type.Optional(ClusterNames('Clusters this override applies to.')),
    clusterSelector: Type.Optional(LabelSelector),
    values: Type.Optional(FreeForm('Helm values merged over spec.source values for these clusters.')),
    patches: Type.Optional(
      Type.Array(Manifest, {
        maxItems: 100,
        description:
          'Partial objects merged (strategic merge) into the rendered object with the same apiVersion, kind and name.',
      }),
    ),
    images: Type.Optional(
      ImageOverrides(
        'Image rewrites for these clusters; an entry replaces the spec.images entry of the same name.',
      ),
    ),
  },
  { 'x-kubernetes-validations': [CLUSTER_TARGET_RULE] },
);
/** Per-cluster changes layered over the rendered source. */
export type Override = Static<typeof Override>;

/** One rollout wave: its clusters are updated together, after the previous wave is healthy. */
export const Wave = StrictObject(
  {
    name: Type.Optional(DnsLabel('Name shown in status and events.')),
    clusters: Type.Optional(ClusterNames('Clusters in this wave.')),
    clusterSelector: Type.Optional(LabelSelector),
    pauseSeconds: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Wait after this wave is healthy.' }),
    ),
  },
  { 'x-kubernetes-validations': [CLUSTER_TARGET_RULE] },
);
/** One rollout wave. */
export type Wave = Static<typeof Wave>;

/** All clusters at once, or wave after wave. */
export const RolloutStrategy = Type.Union([Type.Literal('Parallel'), Type.Literal('Waves')]);
/** All clusters at once, or wave after wave. */
export type RolloutStrategy = Static<typeof RolloutStrategy>;

/** How a new revision reaches the clusters. */
export const Rollout = StrictObject(
  {
    strategy: Type.Optional(
      Type.Union(RolloutStrategy.anyOf, {
        default: 'Parallel',
        description:
          'Parallel: every cluster at once; Waves: wave after wave, each after the previous is Healthy.',
      }),
    ),
    waves: Type.Optional(Type.Array(Wave, { maxItems: 50, description: 'Waves in order (strategy Waves).' })),
    maxUnavailableClusters: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Clusters allowed to be not Healthy while a wave proceeds.' }),
    ),
    progressDeadlineSeconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 600,
        description:
          'A cluster not Healthy this long after the revision was applied has failed (until it was Healthy once; after that only its workloads can fail it).',
      }),
    ),
  },
  {
    description: 'How a new revision reaches the clusters.',
    'x-kubernetes-validations': [
      celRule(
        "!has(self.strategy) || self.strategy != 'Waves' || (has(self.waves) && size(self.waves) > 0)",
        'waves must be set when strategy is Waves',
        (self: { strategy?: string; waves?: readonly unknown[] }) =>
          self.strategy !== 'Waves' || (self.waves !== undefined && self.waves.length > 0),
      ),
    ],
  },
);
/** How a new revision reaches the clusters. */
export type Rollout = Static<typeof Rollout>;

/** Criteria that trigger an automatic rollback of every cluster. */
export const RollbackTrigger = Type.Union([Type.Literal('AnyClusterFailed')]);
/** A rollback trigger. */
export type RollbackTrigger = Static<typeof RollbackTrigger>;

/** When the whole fleet returns to the last good revision. */
export const Rollback = StrictObject(
  {
    automatic: Type.Optional(
      Type.Boolean({ default: true, description: 'Roll every cluster back when a trigger in when fires.' }),
    ),
    when: Type.Optional(
      Type.Array(RollbackTrigger, {
        maxItems: 8,
        'x-kubernetes-list-type': 'set',
        description: 'Triggers: AnyClusterFailed (a cluster failed its rollout).',
      }),
    ),
  },
  { description: 'When every cluster goes back to the last good revision.' },
);
/** When the whole fleet returns to the last good revision. */
export type Rollback = Static<typeof Rollback>;

/** Drift handling. */
export const SyncPolicy = StrictObject(
  {
    selfHeal: Type.Optional(Type.Boolean({ default: true, description: 'Re-apply when a cluster drifts.' })),
    prune: Type.Optional(Type.Boolean({ default: true, description: 'Delete objects no longer rendered.' })),
    force: Type.Optional(
      Type.Boolean({
        default: false,
        description: 'Take over fields another field manager owns instead of reporting the conflict.',
      }),
    ),
    adopt: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'Take over objects that already exist and belong to another Application or tool; otherwise each is a Conflict naming its owner.',
      }),
    ),
    replace: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'Delete and re-create an object when the server refuses a change as immutable (a Job template, a Service clusterIP, a StatefulSet selector); per object: annotation meridian.dev/sync-options: Replace=true.',
      }),
    ),
  },
  { description: 'Drift correction, pruning, ownership conflicts and immutable changes.' },
);
/** Drift handling. */
export type SyncPolicy = Static<typeof SyncPolicy>;

/** Desired state of an Application. */
export const ApplicationSpec = StrictObject(
  {
    source: ApplicationSource,
    destinationNamespace: Type.Optional(
      DnsLabel("Namespace in every cluster; defaults to the Application's."),
    ),
    placement: Placement,
    images: Type.Optional(
      ImageOverrides(
        'Image rewrites applied to every container and init container of every Pod template (kustomize images semantics).',
      ),
    ),
    overrides: Type.Optional(
      Type.Array(Override, {
        maxItems: 100,
        description:
          'Per-cluster Helm values, patches and images, applied in order to the clusters each selects.',
      }),
    ),
    rollout: Type.Optional(Rollout),
    rollback: Type.Optional(Rollback),
    sync: Type.Optional(SyncPolicy),
    revisionHistoryLimit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'ApplicationRevisions kept.' }),
    ),
  },
  { description: 'What to deploy, where, and how to roll it out, roll it back and keep it in sync.' },
);
/** Desired state of an Application. */
export type ApplicationSpec = Static<typeof ApplicationSpec>;

/** Fleet-wide phase of an Application. */
export const ApplicationPhase = Type.Union([
  Type.Literal('Progressing'),
  Type.Literal('Healthy'),
  Type.Literal('Degraded'),
  Type.Literal('RollingBack'),
  Type.Literal('RolledBack'),
  Type.Literal('Failed'),
]);
/** Fleet-wide phase of an Application. */
export type ApplicationPhase = Static<typeof ApplicationPhase>;

/** Phase of an Application in one cluster. */
export const ClusterPhase = Type.Union([
  Type.Literal('Pending'),
  Type.Literal('Progressing'),
  Type.Literal('Healthy'),
  Type.Literal('Degraded'),
  Type.Literal('Failed'),
]);
/** Phase of an Application in one cluster. */
export type ClusterPhase = Static<typeof ClusterPhase>;

/** How a revision's rollout ended. */
export const RevisionOutcome = Type.Union([
  Type.Literal('Progressing'),
  Type.Literal('Succeeded'),
  Type.Literal('Failed'),
  Type.Literal('RolledBack'),
]);
/** How a revision's rollout ended. */
export type RevisionOutcome = Static<typeof RevisionOutcome>;

/** Helm hook events Meridian runs (`helm.sh/hook`); test hooks are never run by a rollout. */
export const HookEvent = Type.Union([
  Type.Literal('pre-install'),
  Type.Literal('post-install'),
  Type.Literal('pre-upgrade'),
  Type.Literal('post-upgrade'),
  Type.Literal('pre-rollback'),
  Type.Literal('post-rollback'),
  Type.Literal('pre-delete'),
  Type.Literal('post-delete'),
]);
/** A Helm hook event. */
export type HookEvent = Static<typeof HookEvent>;

/** The Helm hooks of one event running in one cluster, in weight order, one at a time. */
export const HookRunStatus = StrictObject({
  revision: Type.Integer({ minimum: 1, description: 'Revision whose hooks run.' }),
  event: HookEvent,
  done: Type.Integer({ minimum: 0, description: 'How many of the hooks (in weight order) have finished.' }),
  startedAt: Type.Optional(Timestamp('When the running hook was created; its deadline counts from here.')),
  message: Type.Optional(Type.String({ description: 'What the running hook is waiting for.' })),
});
/** The Helm hooks of one event running in one cluster. */
export type HookRunStatus = Static<typeof HookRunStatus>;

/** An Application in one cluster. */
export const ApplicationClusterStatus = StrictObject({
  name: DnsLabel('Cluster name.'),
  revision: Type.Optional(Type.Integer({ minimum: 0, description: 'Revision applied in this cluster.' })),
  phase: ClusterPhase,
  message: Type.Optional(Type.String()),
  drifted: Type.Optional(Type.Boolean({ description: 'Live objects differ from the revision.' })),
  appliedAt: Type.Optional(Timestamp('When the revision was last applied (or attempted) here.')),
  applyError: Type.Optional(Type.String({ description: 'Why the last apply here failed.' })),
  rolledOutAt: Type.Optional(
    Timestamp(
      'When the applied revision first turned Healthy here; from then on the progress deadline no longer applies.',
    ),
  ),
  hooks: Type.Optional(HookRunStatus),
});
/** An Application in one cluster. */
export type ApplicationClusterStatus = Static<typeof ApplicationClusterStatus>;

/** One past rollout. */
export const RevisionHistoryEntry = StrictObject({
  revision: Type.Integer({ minimum: 1 }),
  digest: Type.String({ description: 'Digest of the rendered manifests.' }),
  outcome: RevisionOutcome,
  startedAt: Type.Optional(Timestamp()),
  finishedAt: Type.Optional(Timestamp()),
});
/** One past rollout. */
export type RevisionHistoryEntry = Static<typeof RevisionHistoryEntry>;

/** Observed state of an Application, written by the deploy controller. */
export const ApplicationStatus = StrictObject({
  observedGeneration: Type.Optional(ObservedGeneration),
  revision: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: 'Revision the spec renders to (being rolled out, running, or rolled back from).',
    }),
  ),
  runningRevision: Type.Optional(
    Type.Integer({
      minimum: 0,
      description:
        'Revision that runs: the one every placed cluster runs (after a rollback, the one rolled back to); during a rollout, the oldest still running somewhere.',
    }),
  ),
  phase: Type.Optional(ApplicationPhase),
  readyClusters: Type.Optional(
    Type.String({ pattern: '^[0-9]+/[0-9]+$', description: 'Healthy/placed clusters, e.g. 2/3.' }),
  ),
  clusters: Type.Optional(
    Type.Array(ApplicationClusterStatus, {
      maxItems: 1000,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    }),
  ),
  history: Type.Optional(Type.Array(RevisionHistoryEntry, { maxItems: 100 })),
  conditions: Type.Optional(Conditions),
  // Bookkeeping that lets a restarted hub continue a rollout exactly where the last one stopped.
  digest: Type.Optional(Type.String({ description: 'Digest of the revision the spec renders to now.' })),
  lastGoodRevision: Type.Optional(
    Type.Integer({ minimum: 1, description: 'Last revision Healthy in every cluster: the rollback target.' }),
  ),
  blockedDigest: Type.Optional(
    Type.String({ description: 'Rolled-back content, not rolled forward to again until the spec changes.' }),
  ),
  mode: Type.Optional(Type.Union([Type.Literal('RollingOut'), Type.Literal('RollingBack')])),
  rollbackCause: Type.Optional(Type.String({ description: 'Why the last rollback happened.' })),
  handledRollbackRequest: Type.Optional(
    Type.String({ description: 'The meridian.dev/rollback-to request already carried out.' }),
  ),
  waveHealthySince: Type.Optional(
    // Atomic: the controller always writes the whole map, and an emptied granular map would reach
    // the API server as null.
    Type.Record(Type.String(), Timestamp(), {
      description: 'When each rollout wave became healthy.',
      'x-kubernetes-map-type': 'atomic',
    }),
  ),
});
/** Observed state of an Application. */
export type ApplicationStatus = Static<typeof ApplicationStatus>;

/** An application delivered to many clusters (namespaced). */
export const ApplicationSchema = resourceSchema('Application', ApplicationSpec, ApplicationStatus, {
  description: 'Standard artifacts rendered once per cluster and rolled out across the placement.',
});
/** An application delivered to many clusters. */
export type Application = Static<typeof ApplicationSchema>;

/** Application kind definition. */
export const ApplicationKind: KindDefinition<typeof ApplicationSchema> = {
  kind: 'Application',
  plural: 'applications',
  singular: 'application',
  shortNames: ['mapp'],
  namespaced: true,
  schema: ApplicationSchema,
  printerColumns: [
    { name: 'Revision', type: 'integer', jsonPath: '.status.runningRevision' },
    { name: 'Desired', type: 'integer', jsonPath: '.status.revision', priority: 1 },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Ready', type: 'string', jsonPath: '.status.readyClusters' },
    AGE_COLUMN,
  ],
};
