// What APP 1 and APP 2 share; see each module for the details.
export { HttpError } from './http-error.ts';
export { HttpService, readJsonBody, type Reply, type RequestContext, type Route } from './http-service.ts';
export { createLogger, traceFields, type Logger } from './logger.ts';
export { createMetrics, type ServiceMetrics } from './metrics.ts';
export { MAX_QUANTITY, parseOrderId, parseOrderInput, type OrderInput } from './order-input.ts';
export { intFrom, readServiceConfig, type ServiceConfig } from './service-config.ts';
export { onTerminate } from './shutdown.ts';
export { startTracing, tracingConfigured, type Tracing, type TracingOptions } from './tracing.ts';
