// The Kubernetes log API of one container (GET pods/{name}/log), read line by line as it streams,
// with the server's RFC 3339 timestamp before each line. Follow streams stay open until the
// container stops, the server goes away, or the caller aborts.
import type { ClusterClient } from './cluster-client.ts';

export interface PodLogRequest {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly follow?: boolean;
  /** Whole-second RFC 3339 (the API's precision). */
  readonly sinceTime?: string;
  readonly tailLines?: number;
  readonly signal?: AbortSignal;
  /**
   * Give up when no byte arrives for this long. A quiet container sends nothing either, so a
   * follower treats this as "reconnect", not as a failure.
   */
  readonly idleTimeoutMs?: number;
  /** Called once the server accepted the request (HTTP 2xx), before the first line. */
  readonly onOpen?: () => void;
}

/** Streams `timestamps=true` lines to `onLine`; resolves when the server ends the stream. */
export function streamPodLog(
  client: ClusterClient,
  req: PodLogRequest,
  onLine: (raw: string) => void,
): Promise<void> {
  const path = `/api/v1/namespaces/${encodeURIComponent(req.namespace)}/pods/${encodeURIComponent(req.pod)}/log`;
  return client.rest.stream(
    path,
    {
      container: req.container,
      timestamps: true,
      follow: req.follow ? true : undefined,
      sinceTime: req.sinceTime,
      tailLines: req.tailLines,
    },
    onLine,
    { signal: req.signal, idleTimeoutMs: req.idleTimeoutMs ?? 60_000, onOpen: req.onOpen },
  );
}
