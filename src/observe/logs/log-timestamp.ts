// Timestamps of the Kubernetes log API (`timestamps=true` puts RFC 3339 before each line). Times
// are normalised to nine fractional digits in UTC so that ordering and de-duplication can compare
// strings; JavaScript's Date would drop everything below the millisecond.

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
/** What the kubelet writes (RFC3339Nano, always nine digits in UTC): taken as it is, no parsing. */
const CANONICAL = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{9}Z$/;

/** The time in canonical form (`2024-01-02T03:04:05.123456789Z`), or undefined if it is not RFC 3339. */
export function normalizeTime(text: string): string | undefined {
  // Hundreds of thousands of lines per query: the common form skips Date.parse.
  if (text.length === 30 && CANONICAL.test(text)) return text;
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, base, frac = '', zone] = m;
  const nanos = frac.padEnd(9, '0');
  let seconds = base!;
  if (zone !== 'Z') {
    const ms = Date.parse(`${base}${zone}`);
    if (Number.isNaN(ms)) return undefined;
    seconds = new Date(ms).toISOString().slice(0, 19);
  } else if (Number.isNaN(Date.parse(`${base}Z`))) return undefined;
  return `${seconds}.${nanos}Z`;
}

/** The whole second a canonical time falls in, as the API's `sinceTime` takes it (no fraction). */
export function floorToSecond(time: string): string {
  return `${time.slice(0, 19)}Z`;
}

/** Canonical time of a millisecond epoch. */
export function timeOfMs(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000000Z`;
}

/** Splits one line of `timestamps=true` output into its time and message; undefined when malformed. */
export function splitTimestamped(raw: string): { time: string; message: string } | undefined {
  const sp = raw.indexOf(' ');
  const stamp = sp < 0 ? raw : raw.slice(0, sp);
  const time = normalizeTime(stamp);
  if (!time) return undefined;
  let message = sp < 0 ? '' : raw.slice(sp + 1);
  if (message.endsWith('\r')) message = message.slice(0, -1);
  return { time, message };
}
