// A rendered revision, kept in the hub so a rollback re-applies exactly what ran before.
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { DnsSubdomain, Manifest, ObservedGeneration, StrictObject, Timestamp } from './common.ts';
import { RevisionOutcome } from './application.ts';
import { AGE_COLUMN, resourceSchema } from './kind.ts';
import type { KindDefinition } from './kind.ts';

/** The fully rendered, per-cluster manifest set of one Application revision. */
export const ApplicationRevisionSpec = StrictObject(
  {
    application: DnsSubdomain('Name of the owning Application, in the same namespace.'),
    revision: Type.Integer({ minimum: 1, description: 'Monotonic revision number within the Application.' }),
    digest: Type.String({
      pattern: '^sha256:[a-f0-9]{64}$',
      hint: 'sha256: followed by 64 lowercase hex digits',
      description: 'sha256 of the rendered manifests; equal digests mean nothing changed.',
    }),
    sourceCommit: Type.Optional(Type.String({ description: 'Git commit the source was rendered from.' })),
    clusters: Type.Record(Type.String(), Type.Array(Manifest), {
      description:
        'Rendered objects keyed by Cluster name. Secrets are kept redacted (values replaced by keyed digests); see secretsRef.',
    }),
    secretsRef: Type.Optional(
      StrictObject(
        {
          name: DnsSubdomain(
            'Secret in the revision’s namespace holding its rendered Secrets as they are applied.',
          ),
        },
        {
          description:
            'Where the values of this revision’s Secrets are kept, readable only with access to Secrets.',
        },
      ),
    ),
  },
  {
    // A revision is a record of what ran: its identity must never change under a rollback.
    'x-kubernetes-validations': [
      {
        rule: 'self.application == oldSelf.application && self.revision == oldSelf.revision && self.digest == oldSelf.digest',
        message: 'application, revision and digest are immutable',
      },
    ],
  },
);
/** The rendered manifest set of one revision. */
export type ApplicationRevisionSpec = Static<typeof ApplicationRevisionSpec>;

/** What happened to this revision. */
export const ApplicationRevisionStatus = StrictObject({
  observedGeneration: Type.Optional(ObservedGeneration),
  outcome: Type.Optional(RevisionOutcome),
  startedAt: Type.Optional(Timestamp()),
  finishedAt: Type.Optional(Timestamp()),
  message: Type.Optional(Type.String()),
});
/** What happened to this revision. */
export type ApplicationRevisionStatus = Static<typeof ApplicationRevisionStatus>;

/** A rendered Application revision (namespaced, owned by its Application). */
export const ApplicationRevisionSchema = resourceSchema(
  'ApplicationRevision',
  ApplicationRevisionSpec,
  ApplicationRevisionStatus,
  { description: 'The fully rendered per-cluster manifests of one Application revision.' },
);
/** A rendered Application revision. */
export type ApplicationRevision = Static<typeof ApplicationRevisionSchema>;

/** ApplicationRevision kind definition. */
export const ApplicationRevisionKind: KindDefinition<typeof ApplicationRevisionSchema> = {
  kind: 'ApplicationRevision',
  plural: 'applicationrevisions',
  singular: 'applicationrevision',
  shortNames: ['mapprev'],
  namespaced: true,
  schema: ApplicationRevisionSchema,
  printerColumns: [
    { name: 'Application', type: 'string', jsonPath: '.spec.application' },
    { name: 'Revision', type: 'integer', jsonPath: '.spec.revision' },
    { name: 'Outcome', type: 'string', jsonPath: '.status.outcome' },
    { name: 'Digest', type: 'string', jsonPath: '.spec.digest', priority: 1 },
    AGE_COLUMN,
  ],
};
