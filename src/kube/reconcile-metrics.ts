// Every controller's reconcile outcomes on one counter (label `controller`), as controller-runtime
// counts them; each controller increments it, the hub's registry serves it.
import { Counter, type Registry } from 'prom-client';

export interface ReconcileMetrics {
  readonly reconciles: Counter<'controller' | 'result'>;
}

export function createReconcileMetrics(registry: Registry): ReconcileMetrics {
  return {
    reconciles: new Counter({
      name: 'meridian_reconcile_total',
      help: 'Reconciles by controller and result',
      labelNames: ['controller', 'result'],
      registers: [registry],
    }),
  };
}
