// The Geo strategy's map from client networks to regions, and from each region to the regions
// nearest to it. Loaded from a YAML file given to `meridian hub --geo-table`.
import ipaddr from 'ipaddr.js';
import { parse as parseYaml } from 'yaml';
import { MeridianError } from '../../kube/errors.ts';

/** A parsed geo table. */
export interface GeoTable {
  /** Networks, most specific first. */
  readonly networks: readonly {
    readonly range: [ipaddr.IPv4 | ipaddr.IPv6, number];
    readonly region: string;
  }[];
  /** For a region, the regions to use in order when it has no healthy cluster (itself first). */
  readonly nearest: ReadonlyMap<string, readonly string[]>;
}

export const EMPTY_GEO_TABLE: GeoTable = { networks: [], nearest: new Map() };

/**
 * Parses the geo table document:
 *
 * ```yaml
 * networks:
 *   - { cidr: 10.1.0.0/16, region: eu-west }
 * regions:                 # optional: nearest regions, closest first
 *   eu-west: [us-east, ap-south]
 * ```
 * Errors name the field (`networks[2].cidr: ...`).
 */
export function parseGeoTable(text: string): GeoTable {
  const doc: unknown = parseYaml(text);
  const fail = (field: string, msg: string): never => {
    throw new MeridianError('InvalidGeoTable', `geo table: ${field}: ${msg}`);
  };
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    return fail('(root)', 'must be a mapping');
  const { networks = [], regions = {} } = doc as { networks?: unknown; regions?: unknown };
  if (!Array.isArray(networks)) return fail('networks', 'must be a list');
  const parsed = networks.map((n: unknown, i) => {
    const entry = (n ?? {}) as { cidr?: unknown; region?: unknown };
    if (typeof entry.cidr !== 'string') return fail(`networks[${i}].cidr`, 'required string');
    if (typeof entry.region !== 'string' || entry.region === '')
      return fail(`networks[${i}].region`, 'required string');
    let range: [ipaddr.IPv4 | ipaddr.IPv6, number];
    try {
      range = ipaddr.parseCIDR(entry.cidr);
    } catch {
      return fail(`networks[${i}].cidr`, `${JSON.stringify(entry.cidr)} is not a CIDR`);
    }
    return { range, region: entry.region };
  });
  parsed.sort((a, b) => b.range[1] - a.range[1]);
  if (regions === null || typeof regions !== 'object' || Array.isArray(regions))
    return fail('regions', 'must be a mapping of region to a list of regions');
  const nearest = new Map<string, string[]>();
  for (const [region, list] of Object.entries(regions)) {
    if (!Array.isArray(list) || list.some((r) => typeof r !== 'string'))
      return fail(`regions.${region}`, 'must be a list of region names');
    nearest.set(region, [region, ...(list as string[]).filter((r) => r !== region)]);
  }
  return { networks: parsed, nearest };
}

/** The region of a client address by longest prefix match, or undefined. */
export function regionOf(table: GeoTable, address: string): string | undefined {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(address);
  } catch {
    return undefined;
  }
  for (const n of table.networks) {
    if (addr.kind() === n.range[0].kind() && addr.match(n.range)) return n.region;
  }
  return undefined;
}
