// Which Meridian application and revision a pod belongs to. The deploy service's ownership labels
// live in the members, so the hub resolves them from its member caches; traces only ask.

/** App and revision of a pod as Meridian deployed it; undefined when the pod is not Meridian's. */
export interface PodLookup {
  resolve(cluster: string, namespace: string, pod: string): { app?: string; revision?: string } | undefined;
}

/** Resolves nothing: spans then fall back to `service.name` for the app and carry no revision. */
export const NO_POD_TOPOLOGY: PodLookup = { resolve: () => undefined };
