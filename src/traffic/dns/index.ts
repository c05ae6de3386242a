// The GSLB DNS's entry for the hub: the server (in the hub process) or its worker processes, and the
// zone configuration both answer with. Everything else in this folder is theirs.
export { GslbDnsServer } from './dns-server.ts';
export { GslbDnsWorkers } from './dns-workers.ts';
export { defaultZoneConfig } from './gslb-answer.ts';
