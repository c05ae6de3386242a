// TLS for the hub's API when it was given no certificate: like kube-apiserver, the hub makes a CA
// and a serving certificate of its own, keeps them in its data directory (so a restart serves the
// same one and clients that trust its CA keep working) and says where the CA is. Plain HTTP only
// with --plain-http (the local fleet; a proxy that terminates TLS in front).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { generateSelfSignedServing } from '../tls/certificates.ts';

export interface ApiTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** The CA that signed certFile: what clients of this hub trust. */
  readonly caFile: string;
  /** Whether this start made them (false: an earlier start's are reused). */
  readonly generated: boolean;
}

/** The names the self-signed certificate is valid for: loopback, this host, the listen address. */
export function selfSignedNames(listenHost: string, host = hostname()): { dns: string[]; ips: string[] } {
  const dns = new Set(['localhost', host]);
  const ips = new Set(['127.0.0.1', '::1']);
  const unspecified = listenHost === '0.0.0.0' || listenHost === '::';
  if (isIP(listenHost) && !unspecified) ips.add(listenHost);
  else if (!isIP(listenHost)) dns.add(listenHost);
  return { dns: [...dns], ips: [...ips] };
}

/** The self-signed certificate in `dir`, made on the first start. */
export async function ensureSelfSignedApiTls(dir: string, listenHost: string): Promise<ApiTlsFiles> {
  const files = {
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    caFile: join(dir, 'ca.crt'),
  };
  if (existsSync(files.certFile) && existsSync(files.keyFile) && existsSync(files.caFile))
    return { ...files, generated: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { ca, serving } = await generateSelfSignedServing('meridian-hub', selfSignedNames(listenHost));
  // The CA's key is not kept: nothing else is ever signed with it.
  const pem = (p: string): string => `${p.trimEnd()}\n`;
  writeFileSync(files.keyFile, pem(serving.key), { mode: 0o600 });
  writeFileSync(files.certFile, pem(serving.cert) + pem(ca.cert));
  writeFileSync(files.caFile, pem(ca.cert));
  return { ...files, generated: true };
}
