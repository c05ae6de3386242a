// The hub API's OpenAPI document, generated from the routes themselves so it cannot drift from
// what the server answers. The console and API clients are built against it.
import type { Route } from '../http/route-contract.ts';

type Json = Record<string, unknown>;

/** OpenAPI 3.1 for `routes`. Pure. */
export function openApiDocument(routes: readonly Route[], version: string): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const doc = r.doc;
    // A prefix route ('/api/v1/traces/') serves a path parameter after the slash.
    const pathParam = doc?.params?.find((p) => p.in === 'path');
    const path = r.path.endsWith('/') && pathParam ? `${r.path}{${pathParam.name}}` : r.path;
    const op: Json = {
      summary: doc?.summary ?? `${r.method} ${r.path}`,
      ...(doc?.description ? { description: doc.description } : {}),
      ...(doc?.tags ? { tags: doc.tags } : {}),
      parameters: (doc?.params ?? []).map((p) => ({
        name: p.name,
        in: p.in ?? 'query',
        description: p.description,
        required: p.in === 'path' ? true : (p.required ?? false),
        schema: { type: 'string' },
      })),
      ...(doc?.requestBody
        ? { requestBody: { required: true, content: { [doc.requestBody]: { schema: {} } } } }
        : {}),
      responses: {
        '200': { description: 'Success', content: { [doc?.produces ?? 'application/json']: { schema: {} } } },
        '400': { description: 'Bad request: the message names the parameter' },
        '401': { description: 'Missing or invalid bearer token' },
        '403': { description: 'The hub cluster RBAC does not allow it' },
      },
    };
    paths[path] = { ...paths[path], [r.method.toLowerCase()]: op };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Meridian hub API',
      version,
      description:
        'Fleet, logs, metrics (Prometheus HTTP API), traces (OTLP/HTTP in, queries out) and topology. ' +
        'Every route needs a bearer token that the hub cluster accepts; RBAC on the hub decides what it may read.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
  };
}

/** The route serving the document for the given routes (itself included). */
export function openApiRoute(routes: readonly Route[], version: string): Route {
  const self: Route = {
    method: 'GET',
    path: '/api/v1/openapi.json',
    access: () => ({ kind: 'nonResource', verb: 'get', path: '/api/v1/openapi.json' }),
    handle: async () => ({ body: openApiDocument([...routes, self], version) }),
    doc: { summary: 'This document', tags: ['hub'] },
  };
  return self;
}
