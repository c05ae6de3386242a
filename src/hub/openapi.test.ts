import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Route } from '../http/route-contract.ts';
import { openApiDocument, openApiRoute } from './openapi.ts';

const route = (method: Route['method'], path: string, doc?: Route['doc']): Route => ({
  method,
  path,
  access: () => ({ kind: 'authenticated' }),
  handle: async () => ({ body: {} }),
  doc,
});

test('documents every route with its parameters, path parameters of prefix routes and bearer auth', () => {
  const doc = openApiDocument(
    [
      route('GET', '/api/v1/query', {
        summary: 'Instant query',
        params: [{ name: 'query', description: 'PromQL', required: true }],
      }),
      route('POST', '/api/v1/query', {
        summary: 'Instant query (form)',
        requestBody: 'application/x-www-form-urlencoded',
      }),
      route('GET', '/api/v1/traces/', {
        summary: 'One trace',
        params: [{ name: 'traceId', in: 'path', description: 'hex id' }],
      }),
      route('GET', '/api/v1/logs/stream', { summary: 'Live logs', produces: 'text/event-stream' }),
    ],
    '1.2.3',
  ) as {
    paths: Record<
      string,
      Record<
        string,
        {
          parameters: { name: string; in: string; required: boolean }[];
          requestBody?: unknown;
          responses: Record<string, { content?: Record<string, unknown> }>;
        }
      >
    >;
    security: unknown;
    info: { version: string };
  };
  assert.equal(doc.info.version, '1.2.3');
  assert.deepEqual(Object.keys(doc.paths), [
    '/api/v1/logs/stream',
    '/api/v1/query',
    '/api/v1/traces/{traceId}',
  ]);
  assert.deepEqual(Object.keys(doc.paths['/api/v1/query']!), ['get', 'post']);
  assert.deepEqual(doc.paths['/api/v1/query']!['get']!.parameters[0], {
    name: 'query',
    in: 'query',
    description: 'PromQL',
    required: true,
    schema: { type: 'string' },
  });
  assert.ok(doc.paths['/api/v1/query']!['post']!.requestBody);
  assert.equal(doc.paths['/api/v1/traces/{traceId}']!['get']!.parameters[0]!.required, true);
  assert.ok(doc.paths['/api/v1/logs/stream']!['get']!.responses['200']!.content!['text/event-stream']);
  assert.deepEqual(doc.security, [{ bearer: [] }]);
});

test('the openapi route lists itself', async () => {
  const r = openApiRoute([route('GET', '/api/v1/whoami')], '0');
  const out = (await r.handle({} as never)) as { body: { paths: Record<string, unknown> } };
  assert.deepEqual(Object.keys(out.body.paths), ['/api/v1/openapi.json', '/api/v1/whoami']);
});
