// What the logs service delivers, to the CLI and over the HTTP API alike: lines labelled with the
// fleet topology, markers where a stream was interrupted, and warnings about clusters that failed.

/** One log line of one container, with where it came from. */
export interface LogLine {
  readonly kind: 'line';
  /** RFC 3339 UTC with nine fractional digits, so times compare as strings. */
  readonly time: string;
  readonly cluster: string;
  readonly region: string;
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  /** `app.kubernetes.io/name`, else `app`, from the pod's labels. */
  readonly app?: string;
  /** The Meridian revision that deployed the pod, when Meridian did. */
  readonly revision?: string;
  readonly message: string;
}

/** Where lines of one cluster may be missing: its stream broke, or came back after a break. */
export interface LogMarker {
  readonly kind: 'marker';
  readonly time: string;
  readonly cluster: string;
  readonly reason: 'Interrupted' | 'Resumed';
  readonly message: string;
}

/** A cluster (or one of its pods) that could not be read; the other clusters carry on. */
export interface LogWarning {
  readonly kind: 'warning';
  readonly time: string;
  readonly cluster?: string;
  readonly message: string;
}

export type LogEvent = LogLine | LogMarker | LogWarning;
