// Certificates Meridian makes itself: the local fleet's per-cluster PKI (a CA, the API server's
// serving certificate, client certificates for the admin and each control-plane component, the
// service-account key), and the self-signed serving certificate the hub's API uses when it is
// given none (as kube-apiserver does).
// ECDSA P-256 through WebCrypto: generating it takes milliseconds, unlike RSA in pure JS.
// @peculiar/x509 uses tsyringe, which needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = {
  name: 'ECDSA',
  namedCurve: 'P-256',
  hash: 'SHA-256',
};
const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

export interface ClusterPki {
  readonly ca: PemPair;
  readonly serving: PemPair;
  readonly admin: PemPair;
  readonly controllerManager: PemPair;
  readonly scheduler: PemPair;
  /** Service-account token signing key (private) and its public half. */
  readonly serviceAccount: { readonly key: string; readonly pub: string };
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privatePem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function publicPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('spki', key);
  return x509.PemConverter.encode(der, 'PUBLIC KEY');
}

function serial(): string {
  // Positive, non-zero 16-byte serial as hex.
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return Buffer.from(b).toString('hex');
}

function escapeDn(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, '\\$1');
}

async function issue(
  ca: { cert: x509.X509Certificate; key: CryptoKey },
  subject: { cn: string; o?: string },
  usage: 'server' | 'client',
  sans: { dns?: readonly string[]; ips?: readonly string[] } = {},
): Promise<PemPair> {
  const keys = await keyPair();
  const now = Date.now();
  const names: x509.JsonGeneralName[] = [
    ...(sans.dns ?? []).map((d) => ({ type: 'dns' as const, value: d })),
    ...(sans.ips ?? []).map((i) => ({ type: 'ip' as const, value: i })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(
      [usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
      false,
    ),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert, false),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${escapeDn(subject.cn)}${subject.o ? `, O=${escapeDn(subject.o)}` : ''}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + TEN_YEARS_MS),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions,
  });
  return { cert: cert.toString('pem'), key: await privatePem(keys.privateKey) };
}

async function newCa(name: string): Promise<{ cert: x509.X509Certificate; key: CryptoKey }> {
  const caKeys = await keyPair();
  const now = Date.now();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${escapeDn(name)}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + TEN_YEARS_MS),
    signingAlgorithm: ALG,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  return { cert: caCert, key: caKeys.privateKey };
}

/** Generates the whole PKI of one cluster whose API server is reached at `address`. */
export async function generateClusterPki(clusterName: string, address: string): Promise<ClusterPki> {
  const ca = await newCa(`meridian-local-${clusterName}-ca`);
  const serving = await issue(ca, { cn: 'kube-apiserver' }, 'server', {
    dns: [
      'localhost',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ],
    ips: [address, '127.0.0.1', '10.96.0.1'],
  });
  const sa = await keyPair();
  return {
    ca: { cert: ca.cert.toString('pem'), key: await privatePem(ca.key) },
    serving,
    admin: await issue(ca, { cn: 'meridian-admin', o: 'system:masters' }, 'client'),
    controllerManager: await issue(ca, { cn: 'system:kube-controller-manager' }, 'client'),
    scheduler: await issue(ca, { cn: 'system:kube-scheduler' }, 'client'),
    serviceAccount: { key: await privatePem(sa.privateKey), pub: await publicPem(sa.publicKey) },
  };
}

/**
 * A CA of its own and a serving certificate it signed for `dns` names and `ips`: what a server
 * that was given no certificate serves, and what its clients trust (the CA, not the leaf).
 */
export async function generateSelfSignedServing(
  name: string,
  sans: { dns: readonly string[]; ips: readonly string[] },
): Promise<{ ca: PemPair; serving: PemPair }> {
  const ca = await newCa(`${name}-ca`);
  const serving = await issue(ca, { cn: name }, 'server', sans);
  return { ca: { cert: ca.cert.toString('pem'), key: await privatePem(ca.key) }, serving };
}
