// Cluster DNS names for a Node.js program run as a pod process of the local fleet, loaded with
// NODE_OPTIONS=--import <this file>. In a real cluster the pod's /etc/resolv.conf sends every name
// to CoreDNS with the search path `<ns>.svc.cluster.local svc.cluster.local cluster.local`; here
// the program keeps the machine's resolver, so this module routes `dns.lookup` (what net, http,
// fetch and database drivers call) and `dns.promises.lookup` to the member's cluster DNS server
// (cluster-dns-server.ts) for cluster names, and leaves every other name to the system.
//
// Plain JavaScript with no dependencies: it is loaded into programs that are not Meridian's.
// Environment (set by the pod runtime):
//   MERIDIAN_CLUSTER_DNS    host:port of the member's cluster DNS server (unset: module does nothing)
//   MERIDIAN_POD_NAMESPACE  the pod's namespace, the first search domain (default: default)
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

/** Installs the lookup override for `server` ("host:port") and the pod's `namespace`. */
export function install(server, namespace) {
  const resolver = new dns.Resolver({ timeout: 1000, tries: 2 });
  resolver.setServers([server]);
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
    // Cluster addresses are IPv4 loopback: an IPv6-only lookup is the system's.
    const candidates = family === 6 ? [] : clusterCandidates(hostname, namespace);
    if (candidates.length === 0) return systemLookup.call(dns, hostname, options, callback);
    resolveCluster(candidates).then((addresses) => {
      // The cluster zones are the cluster DNS's alone (as CoreDNS is authoritative for them): an
      // unknown Service there is not found, and is never asked of the machine's resolver.
      if (!addresses && inZone(String(hostname).toLowerCase().replace(/\.$/, '')))
        return callback(notFound(hostname));
      if (!addresses) return systemLookup.call(dns, hostname, options, callback);
      if (opts.all)
        callback(
          null,
          addresses.map((address) => ({ address, family: 4 })),
        );
      else callback(null, addresses[0], 4);
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

const server = process.env.MERIDIAN_CLUSTER_DNS;
if (server) install(server, process.env.MERIDIAN_POD_NAMESPACE || 'default');
