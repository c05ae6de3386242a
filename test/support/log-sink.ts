// A logger destination for tests that read what a component logged: every complete JSON line
// written to the stream is parsed and appended to `into`, in order.
import { PassThrough } from 'node:stream';

export function jsonLineSink(into: Record<string, unknown>[]): PassThrough {
  const sink = new PassThrough();
  let partial = '';
  sink.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l) into.push(JSON.parse(l) as Record<string, unknown>);
  });
  return sink;
}
