// Container output in the CRI log format the kubelet writes and kwok serves
// (`<RFC 3339 nano time> <stdout|stderr> <F|P> <text>`): whole lines end in F, a line longer than
// the kubelet's 16 KiB buffer is split into P pieces ending with an F one, and a stream's last
// bytes without a newline are flushed as P when the stream ends (as containerd does).
import { closeSync, openSync, writeSync } from 'node:fs';

export type LogStream = 'stdout' | 'stderr';

/** The kubelet's maximum line piece (bytes of text per record). */
export const MAX_PIECE = 16 * 1024;

/** RFC 3339 with nanoseconds from a millisecond clock, as Go's RFC3339Nano prints UTC. */
export function criTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/** Splits text into CRI records; returns them and the unterminated tail to keep for later. */
export function encodeCriLines(
  stream: LogStream,
  text: string,
  nowMs: number,
  final = false,
): { records: string; rest: string } {
  const t = criTime(nowMs);
  let records = '';
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) break;
    records += pieces(stream, t, text.slice(start, nl), 'F');
    start = nl + 1;
  }
  let rest = text.slice(start);
  while (Buffer.byteLength(rest) > MAX_PIECE) {
    const piece = sliceBytes(rest, MAX_PIECE);
    records += `${t} ${stream} P ${piece}\n`;
    rest = rest.slice(piece.length);
  }
  if (final && rest.length > 0) {
    records += `${t} ${stream} P ${rest}\n`;
    rest = '';
  }
  return { records, rest };
}

function pieces(stream: LogStream, t: string, line: string, last: 'F' | 'P'): string {
  let out = '';
  let rest = line.replace(/\r$/, '');
  while (Buffer.byteLength(rest) > MAX_PIECE) {
    const piece = sliceBytes(rest, MAX_PIECE);
    out += `${t} ${stream} P ${piece}\n`;
    rest = rest.slice(piece.length);
  }
  return `${out}${t} ${stream} ${last} ${rest}\n`;
}

/** The longest prefix of `s` of at most `max` UTF-8 bytes that does not split a character. */
function sliceBytes(s: string, max: number): string {
  let bytes = 0;
  let i = 0;
  for (const ch of s) {
    const b = Buffer.byteLength(ch);
    if (bytes + b > max) break;
    bytes += b;
    i += ch.length;
  }
  return s.slice(0, i);
}

/** Appends one container's stdout and stderr to its CRI log file. */
export class CriLogFile {
  private fd: number;
  private readonly rest: Record<LogStream, string> = { stdout: '', stderr: '' };
  private readonly decoders = {
    stdout: new TextDecoder('utf-8'),
    stderr: new TextDecoder('utf-8'),
  };

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a');
  }

  write(stream: LogStream, chunk: Buffer): void {
    if (this.fd < 0) return;
    const { records, rest } = encodeCriLines(
      stream,
      this.rest[stream] + this.decoders[stream].decode(chunk, { stream: true }),
      Date.now(),
    );
    this.rest[stream] = rest;
    if (records) writeSync(this.fd, records);
  }

  /** Flushes unterminated output as partial records and closes the file. */
  close(): void {
    if (this.fd < 0) return;
    for (const s of ['stdout', 'stderr'] as const) {
      const { records } = encodeCriLines(s, this.rest[s], Date.now(), true);
      if (records) writeSync(this.fd, records);
      this.rest[s] = '';
    }
    closeSync(this.fd);
    this.fd = -1;
  }
}
