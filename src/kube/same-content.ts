// Whether two API objects (or parts) say the same thing. Key order does not count — the API
// server returns fields in its own order — and neither do undefined fields, which never reach it.
// Comparing JSON strings instead made every status write look like a change, and every write
// then triggered the next.
import { isDeepStrictEqual } from 'node:util';

const normalize = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

export function sameContent(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(normalize(a), normalize(b));
}
