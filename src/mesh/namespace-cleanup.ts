// Decides whether a namespace the mesh created may go when the last export of a service goes: only
// when everything in it is the mesh's own (ServiceImports, derived Services, Meridian's
// EndpointSlices) or what Kubernetes puts in every namespace. Anything else — a user's Deployment,
// ConfigMap, Secret, Service, ServiceExport, a custom resource — keeps the namespace. Pure.
import type { KubeObject } from '../kube/cluster-client.ts';
import { SLICE_MANAGED_BY, SLICE_MANAGED_BY_LABEL, MCS_SERVICE_NAME_LABEL } from './endpoint-plan.ts';
import { isDerived } from './facts.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../api/labels.ts';

const MANAGED_BY_MERIDIAN = (o: KubeObject): boolean => o.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;

const group = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');

/** The imported service a mesh object belongs to (the plain name), when `o` is one. */
export function meshObjectService(o: KubeObject): string | undefined {
  if (!isMeshObject(o)) return undefined;
  if (o.kind === 'ServiceImport') return o.metadata.name;
  return o.metadata.labels?.[MCS_SERVICE_NAME_LABEL] ?? o.metadata.name;
}

/** An object the mesh writes in members (and removes with the import). */
export function isMeshObject(o: KubeObject): boolean {
  const g = group(o.apiVersion);
  if (g === 'multicluster.x-k8s.io' && o.kind === 'ServiceImport') return MANAGED_BY_MERIDIAN(o);
  if (g === '' && o.kind === 'Service') return isDerived(o);
  if (g === 'discovery.k8s.io' && o.kind === 'EndpointSlice')
    return o.metadata.labels?.[SLICE_MANAGED_BY_LABEL] === SLICE_MANAGED_BY;
  return false;
}

/** What Kubernetes creates in every namespace, and Events (records, not anyone's data). */
export function isNamespaceDefault(o: KubeObject): boolean {
  const g = group(o.apiVersion);
  if (o.kind === 'Event' && (g === '' || g === 'events.k8s.io')) return true;
  if (g !== '') return false;
  if (o.kind === 'ConfigMap') return o.metadata.name === 'kube-root-ca.crt';
  if (o.kind === 'ServiceAccount') return o.metadata.name === 'default';
  // Clusters before 1.24 give the default ServiceAccount a token Secret.
  if (o.kind === 'Secret')
    return (
      o['type'] === 'kubernetes.io/service-account-token' &&
      o.metadata.annotations?.['kubernetes.io/service-account.name'] === 'default'
    );
  return false;
}

/**
 * The objects that keep a namespace the mesh created from being removed once `service` is no
 * longer imported; empty when it may go. The mesh's objects of another service keep it too.
 */
export function namespaceBlockers(objects: readonly KubeObject[], service: string): KubeObject[] {
  return objects.filter((o) => !isNamespaceDefault(o) && meshObjectService(o) !== service);
}
