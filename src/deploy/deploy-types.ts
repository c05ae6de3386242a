// The deploy service's internal contracts: what rendering produces, what the rollout planner
// consumes and decides. Resource types themselves come from src/api.
import type { KubeObject } from '../kube/cluster-client.ts';

/** An error a user can act on, naming where it is. */
export interface DeployError {
  readonly code: string;
  /** The cluster it concerns, when it concerns one. */
  readonly cluster?: string;
  /** `Kind namespace/name` of the object it concerns, when one. */
  readonly object?: string;
  /** Field path, e.g. spec.source.helm.chart or spec.template.spec.containers[0].image. */
  readonly field?: string;
  readonly message: string;
}

/** The rendered manifests for one cluster. */
export interface RenderedCluster {
  readonly cluster: string;
  readonly objects: readonly KubeObject[];
  /** sha256 of the canonical JSON of `objects` (sorted by kind/namespace/name). */
  readonly digest: string;
}

export type RenderOutcome =
  | {
      readonly ok: true;
      readonly clusters: readonly RenderedCluster[];
      /** Commit of a git source, when there is one. */
      readonly sourceCommit?: string;
      /** Digest over all clusters' digests: identifies the revision's content. */
      readonly digest: string;
      /** Things the user should know that are not errors (where built-in values went), for Events. */
      readonly notices?: readonly string[];
    }
  | { readonly ok: false; readonly errors: readonly DeployError[] };

/** Health of an Application's objects in one cluster. */
export type WorkloadHealth =
  | { readonly state: 'Healthy'; readonly message: string }
  | { readonly state: 'Progressing'; readonly message: string }
  | { readonly state: 'Failed'; readonly message: string };
