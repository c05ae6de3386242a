// The routing model the GSLB DNS and the edge gateway share: the table built from hub state (kept
// current by TrafficTableSync), the Geo table, and the one ranking both use to pick a cluster.
export { EMPTY_GEO_TABLE, parseGeoTable, type GeoTable } from './geo-table.ts';
export { buildRoutes } from './routes.ts';
export { StaticRoutingTable } from './routing.ts';
export { BalancerCounters, dnsAnswerClusters, rankClusters } from './select.ts';
export { TrafficTableSync } from './table-sync.ts';
