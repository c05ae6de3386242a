// The GlobalIngress controller's entry for the hub: it generates each member's Ingress/HTTPRoute and
// Services, resolves host claims and runs the health checks whose results the routing table reads.
export { TrafficController, type TrafficControllerOptions } from './global-ingress-controller.ts';
