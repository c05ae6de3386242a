// The edge gateway's entry for the hub (and the local fleet's ingress emulator, which forwards by
// the same header rules): the gateway in the hub process or in worker processes, its access log.
export { EdgeAccessLog } from './edge-access-log.ts';
export { EdgeGateway } from './edge-gateway.ts';
export { EdgeGatewayWorkers } from './edge-workers.ts';
export { downstreamHeaders, upstreamHead } from './edge-request-head.ts';
