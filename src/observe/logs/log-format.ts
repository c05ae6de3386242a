// The text form of log events, as `meridian logs` prints them: a [cluster] prefix, then where the
// line came from, so lines of many clusters stay readable when interleaved.
import type { LogEvent } from './log-event.ts';

export function formatEvent(ev: LogEvent, timestamps: boolean): string {
  const at = timestamps ? `${ev.time} ` : '';
  switch (ev.kind) {
    case 'line':
      return `${at}[${ev.cluster}] ${ev.namespace}/${ev.pod}/${ev.container} ${ev.message}`;
    case 'marker':
      return `${at}[${ev.cluster}] --- ${ev.message} ---`;
    case 'warning':
      return `${at}${ev.cluster ? `[${ev.cluster}] ` : ''}warning: ${ev.message}`;
  }
}
