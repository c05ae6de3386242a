// The local fleet's safety rule: in local/test mode Meridian never opens a connection to anything
// but loopback. Every outgoing connection Meridian makes goes through this check first.
import { isIP } from 'node:net';
import { MeridianError } from '../kube/errors.ts';

let loopbackOnly = process.env['MERIDIAN_LOOPBACK_ONLY'] === '1';

/** Restricts (or frees) outgoing connections for this process. Also inherited by child processes. */
export function setLoopbackOnly(on: boolean): void {
  loopbackOnly = on;
  process.env['MERIDIAN_LOOPBACK_ONLY'] = on ? '1' : '0';
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

/** Throws when the process is in loopback-only mode and `host` is not a loopback address. */
export function assertLoopbackAllowed(host: string): void {
  if (loopbackOnly && !isLoopbackHost(host)) {
    throw new MeridianError(
      'NonLoopbackDial',
      `refusing to connect to ${host}: this process runs in local mode (MERIDIAN_LOOPBACK_ONLY=1) and only dials loopback addresses`,
    );
  }
}
