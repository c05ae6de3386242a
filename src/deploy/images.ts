// Image overrides with kustomize's `images` semantics, applied to every container of every Pod
// template in the rendered objects.
import type { ImageOverride } from '../api/application.ts';
import type { KubeObject } from '../kube/cluster-client.ts';
import { isJsonMap } from './merge.ts';
import type { JsonMap } from './merge.ts';

/** An image reference split into repository name, tag and digest. */
export interface ImageRef {
  readonly name: string;
  readonly tag?: string;
  readonly digest?: string;
}

/**
 * Splits `registry:5000/team/app:1.2@sha256:…` into name, tag and digest, as kustomize does: a
 * colon before the first slash is a registry port, not a tag.
 */
export function splitImage(image: string): ImageRef {
  const slash = image.indexOf('/');
  const from = slash > 0 ? slash : 0;
  const at = image.indexOf('@', from);
  const beforeDigest = at >= 0 ? image.slice(0, at) : image;
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const colon = beforeDigest.indexOf(':', from);
  const name = colon >= 0 ? beforeDigest.slice(0, colon) : beforeDigest;
  const tag = colon >= 0 ? beforeDigest.slice(colon + 1) : undefined;
  return { name, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * Applies the first override whose `name` equals the image's repository name. Like kustomize: a
 * new tag or digest replaces both the old tag and the old digest; both set gives `name:tag@digest`.
 */
export function overrideImage(image: string, overrides: readonly ImageOverride[]): string {
  const ref = splitImage(image);
  const rule = overrides.find((o) => o.name === ref.name);
  if (!rule) return image;
  const name = rule.newName ?? ref.name;
  let tag = ref.tag;
  let digest = ref.digest;
  if (rule.newTag !== undefined || rule.digest !== undefined) {
    tag = rule.newTag;
    digest = rule.digest;
  }
  return `${name}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
}

/**
 * The image list in force for one cluster: `spec.images`, with each matching override's entries
 * replacing the entry of the same name (later overrides win). Replacing rather than chaining
 * keeps `name` meaning "the image as written in the manifests" everywhere.
 */
export function effectiveImages(
  base: readonly ImageOverride[] | undefined,
  layers: readonly (readonly ImageOverride[] | undefined)[],
): ImageOverride[] {
  const byName = new Map<string, ImageOverride>();
  for (const list of [base, ...layers]) for (const entry of list ?? []) byName.set(entry.name, entry);
  return [...byName.values()];
}

const WORKLOAD_GROUPS: Readonly<Record<string, string>> = {
  Pod: '',
  Deployment: 'apps',
  StatefulSet: 'apps',
  DaemonSet: 'apps',
  ReplicaSet: 'apps',
  Job: 'batch',
  CronJob: 'batch',
};

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash >= 0 ? apiVersion.slice(0, slash) : '';
}

// The path from the object to its PodSpec, for the built-in workload kinds.
function podSpecPath(obj: KubeObject): readonly string[] | undefined {
  const group = WORKLOAD_GROUPS[obj.kind];
  if (group === undefined || groupOf(obj.apiVersion) !== group) return undefined;
  if (obj.kind === 'Pod') return ['spec'];
  if (obj.kind === 'CronJob') return ['spec', 'jobTemplate', 'spec', 'template', 'spec'];
  return ['spec', 'template', 'spec'];
}

function rewriteContainers(list: unknown, overrides: readonly ImageOverride[]): unknown {
  if (!Array.isArray(list)) return list;
  return list.map((c: unknown) => {
    if (!isJsonMap(c) || typeof c['image'] !== 'string') return c;
    const image = overrideImage(c['image'], overrides);
    return image === c['image'] ? c : { ...c, image };
  });
}

function rewriteAt(node: JsonMap, path: readonly string[], overrides: readonly ImageOverride[]): JsonMap {
  const [head, ...rest] = path;
  if (head === undefined) {
    const out: JsonMap = { ...node };
    for (const key of ['containers', 'initContainers', 'ephemeralContainers']) {
      if (key in out) out[key] = rewriteContainers(out[key], overrides);
    }
    return out;
  }
  const child = node[head];
  if (!isJsonMap(child)) return node;
  return { ...node, [head]: rewriteAt(child, rest, overrides) };
}

/**
 * Rewrites container and init-container images in the Pod templates of Pods, Deployments,
 * StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs. Other objects are returned as they are.
 */
export function applyImageOverrides(
  objects: readonly KubeObject[],
  overrides: readonly ImageOverride[],
): KubeObject[] {
  if (overrides.length === 0) return [...objects];
  return objects.map((obj) => {
    const path = podSpecPath(obj);
    return path ? (rewriteAt(obj, path, overrides) as KubeObject) : obj;
  });
}
