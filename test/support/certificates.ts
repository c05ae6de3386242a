// A self-signed certificate for one host name, as a kubernetes.io/tls Secret would hold it, and an
// HTTPS client for it, for the tests of TLS termination (the edge gateway). Made on WebCrypto, in
// milliseconds.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** PEM certificate (also the CA a client trusts) and PKCS#8 key for `host`, valid for a day. */
export async function selfSignedCertificate(
  host: string,
): Promise<{ ca: string; cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${host}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: alg,
    keys,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: host }])],
  });
  const key = x509.PemConverter.encode(
    await webcrypto.subtle.exportKey('pkcs8', keys.privateKey),
    'PRIVATE KEY',
  );
  const pem = cert.toString('pem');
  return { ca: pem, cert: pem, key };
}

/** One HTTPS GET of / on a new connection to 127.0.0.1:`port`, for `host` (SNI and Host), trusting `ca`. */
export function httpsGet(port: number, host: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: '/', servername: host, headers: { Host: host }, ca, agent: false },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error(`no HTTPS answer for ${host} in 5 s`)));
    req.end();
  });
}
