// Byte-level HTTP/1.1 syntax for parsers on the proxy's hot path: lookup tables and scans over a
// Buffer, so a head is read in one pass instead of split/trim/regex per line. Each table is
// derived from the definition it stands for (RFC 9110 tokens and field values), so the two
// cannot disagree.

/** `token` (RFC 9110 §5.6.2). */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Bytes a field value may not hold: controls other than HTAB, and DEL (obs-text is allowed). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
export const BAD_VALUE = /[\0-\x08\x0a-\x1f\x7f]/;

/** 1 for a token byte. */
export const TCHAR = new Uint8Array(256);
/** 1 for a byte a field value may hold. */
export const FIELD = new Uint8Array(256);
/** 1 for optional whitespace (RFC 9112 §5: SP, HTAB), the only bytes trimmed from a value. */
const OWS = new Uint8Array(256);
/** The byte lower-cased (ASCII). */
const LOWER = new Uint8Array(256);
/** 1 for a decimal digit. */
export const DIGIT = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  const c = String.fromCharCode(b);
  TCHAR[b] = TOKEN.test(c) ? 1 : 0;
  FIELD[b] = BAD_VALUE.test(c) ? 0 : 1;
  OWS[b] = c === ' ' || c === '\t' ? 1 : 0;
  LOWER[b] = c.toLowerCase().charCodeAt(0);
  DIGIT[b] = /\d/.test(c) ? 1 : 0;
}
export const CR = 13;
export const LF = 10;

/** `buf[at, at + lower.length)` equals `lower` (lowercase ASCII) in any case. */
export function lowerIs(buf: Buffer, at: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) if (LOWER[buf[at + k]!] !== lower.charCodeAt(k)) return false;
  return true;
}

/** `lower` occurs in `buf[from, to)` in any case (as `value.toLowerCase().includes(lower)`). */
export function includesLower(buf: Buffer, from: number, to: number, lower: string): boolean {
  for (let at = from; at + lower.length <= to; at++) if (lowerIs(buf, at, lower)) return true;
  return false;
}

/**
 * `buf.indexOf('\r\n\r\n', from)` without the native call, which costs more than the search in
 * a small head: Horspool's skip on the window's last byte, 4 bytes at a time past anything but
 * CR/LF.
 */
export function headEnd(buf: Buffer, from: number): number {
  for (let k = from + 3; k < buf.length;) {
    const c = buf[k];
    if (c === LF) {
      if (buf[k - 1] === CR && buf[k - 2] === LF && buf[k - 3] === CR) return k - 3;
      k += 2;
    } else k += c === CR ? 1 : 4;
  }
  return -1;
}

/** The first byte of `buf[from, to)` after optional whitespace (`to` if none). */
export function trimStart(buf: Buffer, from: number, to: number): number {
  while (from < to && OWS[buf[from]!] === 1) from++;
  return from;
}

/** The end of `buf[from, to)` without optional whitespace there. */
export function trimEnd(buf: Buffer, from: number, to: number): number {
  while (to > from && OWS[buf[to - 1]!] === 1) to--;
  return to;
}

/** The number `buf[from, to)` holds as 1 to 15 decimal digits, or -1. */
export function digitsValue(buf: Buffer, from: number, to: number): number {
  if (to === from || to - from > 15) return -1;
  let n = 0;
  for (let k = from; k < to; k++) {
    if (DIGIT[buf[k]!] !== 1) return -1;
    n = n * 10 + buf[k]! - 0x30;
  }
  return n;
}
