// Cluster DNS names for a Node.js program run as a pod process of the local fleet, loaded with
// NODE_OPTIONS=--import <this file>. In a real cluster the pod's /etc/resolv.conf sends every name
// to CoreDNS with the search path `<ns>.svc.cluster.local svc.cluster.local cluster.local`; here
// the program keeps the machine's resolver, so this module routes `dns.lookup` (what net, http,
// fetch and database drivers call) and `dns.promises.lookup` to the member's cluster DNS server
// (cluster-dns-server.ts) for cluster names.
//
// In local mode (MERIDIAN_LOOPBACK_ONLY=1, how the pod runtime starts every pod process) nothing
// else is resolved off loopback: a name that is not a cluster name, `localhost` (or a
// `*.localhost` name), the pod's own hostname (its /etc/hosts entry in a real pod) or a loopback
// literal fails with ENOTFOUND, as in a cluster whose DNS has no upstream; `dns.resolve*` asks the
// cluster DNS server only. Outside local mode other names stay the system's.
//
// Plain JavaScript with no dependencies: it is loaded into programs that are not Meridian's.
// Environment (set by the pod runtime):
//   MERIDIAN_CLUSTER_DNS    host:port of the member's cluster DNS server (unset: module does nothing)
//   MERIDIAN_POD_NAMESPACE  the pod's namespace, the first search domain (default: default)
//   MERIDIAN_LOOPBACK_ONLY  1: local mode, as above
//   HOSTNAME, MERIDIAN_POD_ADDRESS  the pod's hostname and its loopback address
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import { isIP } from 'node:net';

const ZONES = ['cluster.local', 'clusterset.local'];
const inZone = (name) => ZONES.some((z) => name.endsWith(`.${z}`));

/**
 * The fully qualified cluster names to ask for `hostname`, in order; [] leaves it to the system.
 * Only names the search path could make into a Service name are asked: `name` (the pod's
 * namespace), `name.ns`, `name.ns.svc`, or a name already in a cluster zone. Any other expansion
 * could only be NXDOMAIN, so skipping it changes no answer and saves a round trip.
 */
export function clusterCandidates(hostname, namespace) {
  let name = String(hostname).toLowerCase();
  const absolute = name.endsWith('.');
  if (absolute) name = name.slice(0, -1);
  if (!name || isIP(name) || name === 'localhost' || name.endsWith('.localhost')) return [];
  if (inZone(name)) return [name];
  if (absolute) return [];
  const labels = name.split('.');
  if (labels.some((l) => l === '')) return [];
  if (labels.length === 1) return [`${name}.${namespace}.svc.cluster.local`];
  if (labels.length === 2) return [`${name}.svc.cluster.local`];
  if (labels.length === 3 && labels[2] === 'svc') return [`${name}.cluster.local`];
  return [];
}

const CACHE_MAX = 1000;

/** The error dns.lookup gives for a name that does not exist. */
function notFound(hostname) {
  const err = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
  return Object.assign(err, { errno: -3008, code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname });
}

/**
 * Names local mode leaves to the system, which answers them without a query: `localhost` and
 * `*.localhost` (RFC 6761; from /etc/hosts) and loopback literals.
 */
function isLocalName(name) {
  if (isIP(name)) return isLoopbackLiteral(name);
  return name === 'localhost' || name.endsWith('.localhost');
}

/** Whether `address` (an IP literal) is a loopback address. */
function isLoopbackLiteral(address) {
  const a = address.toLowerCase();
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1' || a === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(a);
}

/**
 * Installs the lookup override for `server` ("host:port") and the pod's `namespace`. `local`:
 * local mode (no other name leaves loopback); `self`: the pod's hostname and address, if known.
 */
export function install(server, namespace, { local = false, self = undefined } = {}) {
  const resolver = new dns.Resolver({ timeout: 1000, tries: 2 });
  resolver.setServers([server]);
  if (local) {
    // dns.resolve*() go to the cluster DNS server too (it refuses names outside its zones).
    try {
      dns.setServers([server]);
      dns.promises.setServers([server]);
    } catch {
      // a server string this Node cannot take leaves resolve*() as it was; lookups are covered
    }
  }
  /** fully qualified name → { addresses, expires } */
  const cache = new Map();
  const systemLookup = dns.lookup;

  const ask = (fqdn) =>
    new Promise((resolve) => {
      const hit = cache.get(fqdn);
      if (hit && hit.expires > Date.now()) return resolve(hit.addresses);
      resolver.resolve4(fqdn, { ttl: true }, (err, records) => {
        if (err || !records || records.length === 0) return resolve(undefined);
        const addresses = records.map((r) => r.address);
        const ttl = Math.min(...records.map((r) => r.ttl));
        if (cache.size >= CACHE_MAX) cache.clear();
        cache.set(fqdn, { addresses, expires: Date.now() + ttl * 1000 });
        resolve(addresses);
      });
    });

  const resolveCluster = async (candidates) => {
    for (const c of candidates) {
      const found = await ask(c);
      if (found) return found;
    }
    return undefined;
  };

  function lookup(hostname, options, callback) {
    if (typeof options === 'function') {
      callback = options;
      options = {};
    }
    const opts = typeof options === 'number' ? { family: options } : (options ?? {});
    const family = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : Number(opts.family ?? 0);
    const name = String(hostname).toLowerCase().replace(/\.$/, '');
    const answer = (addresses) => {
      if (opts.all)
        callback(
          null,
          addresses.map((address) => ({ address, family: 4 })),
        );
      else callback(null, addresses[0], 4);
    };
    if (local && !isLocalName(name)) {
      if (self && name === self.hostname && family !== 6) {
        process.nextTick(answer, [self.address]);
        return {};
      }
      if (family === 6 || clusterCandidates(hostname, namespace).length === 0) {
        process.nextTick(callback, notFound(hostname));
        return {};
      }
    }
    // Cluster addresses are IPv4 loopback: an IPv6-only lookup is the system's.
    const candidates = family === 6 ? [] : clusterCandidates(hostname, namespace);
    if (candidates.length === 0) return systemLookup.call(dns, hostname, options, callback);
    resolveCluster(candidates).then((addresses) => {
      // The cluster zones are the cluster DNS's alone (as CoreDNS is authoritative for them): an
      // unknown Service there is not found, and is never asked of the machine's resolver. In
      // local mode no name is.
      if (!addresses && (local || inZone(name))) return callback(notFound(hostname));
      if (!addresses) return systemLookup.call(dns, hostname, options, callback);
      answer(addresses);
    });
    return {};
  }

  function promisesLookup(hostname, options) {
    return new Promise((resolve, reject) => {
      lookup(hostname, options ?? {}, (err, address, family) => {
        if (err) reject(err);
        else resolve(Array.isArray(address) ? address : { address, family });
      });
    });
  }

  dns.lookup = lookup;
  dns.promises.lookup = promisesLookup;
  syncBuiltinESMExports();
}

const env = process.env;
if (env.MERIDIAN_CLUSTER_DNS)
  install(env.MERIDIAN_CLUSTER_DNS, env.MERIDIAN_POD_NAMESPACE || 'default', {
    local: env.MERIDIAN_LOOPBACK_ONLY === '1',
    self:
      env.HOSTNAME && env.MERIDIAN_POD_ADDRESS
        ? { hostname: env.HOSTNAME.toLowerCase(), address: env.MERIDIAN_POD_ADDRESS }
        : undefined,
  });
