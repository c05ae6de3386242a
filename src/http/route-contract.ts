// The contract between the hub's HTTP server and the services that serve routes on it: what a
// route is, what it answers, what it documents and what a caller must be allowed to do. Services
// import this, never the hub, so the hub can wire every service without an import loop.
import type http from 'node:http';

export interface UserInfo {
  readonly username: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra?: Record<string, string[]>;
}

/** What a request wants to do, in SubjectAccessReview terms. */
export type AccessRequest =
  | {
      readonly kind: 'resource';
      readonly verb: string;
      readonly group: string;
      readonly resource: string;
      readonly subresource?: string;
      readonly namespace?: string;
      readonly name?: string;
    }
  | { readonly kind: 'nonResource'; readonly verb: string; readonly path: string }
  /** Any authenticated user (like SelfSubjectReview): no SubjectAccessReview. */
  | { readonly kind: 'authenticated' };

export interface RouteContext {
  readonly url: URL;
  readonly user: UserInfo;
  readonly req: http.IncomingMessage;
  /** For handlers that stream (SSE, follow) or answer in binary: write here and return undefined. */
  readonly res: http.ServerResponse;
}

/** A JSON (or text/binary when contentType says so) answer; undefined when the handler wrote `res` itself. */
export type RouteResult =
  { status?: number; body: unknown; contentType?: string; headers?: Record<string, string> } | undefined;

/** What /api/v1/openapi.json says about a route. */
export interface RouteDoc {
  readonly summary: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  readonly params?: readonly {
    readonly name: string;
    readonly in?: 'query' | 'path';
    readonly description: string;
    readonly required?: boolean;
  }[];
  /** Content type of the request body, for POST routes that take one. */
  readonly requestBody?: string;
  /** Content type of a success, when not JSON (e.g. text/event-stream). */
  readonly produces?: string;
}

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Exact path, or a prefix ending in '/'. */
  readonly path: string;
  /** What the caller must be allowed to do, checked with a SubjectAccessReview. */
  readonly access: (url: URL) => AccessRequest;
  readonly handle: (ctx: RouteContext) => Promise<RouteResult>;
  readonly doc?: RouteDoc;
}

/**
 * A request the client got wrong: answered 400 with the message and the parameter it names, from
 * wherever a route (or its `access`) throws it. Nothing a client sends should reach the 500 path.
 */
export class BadRequestError extends Error {
  constructor(
    /** The query or path parameter at fault (`path` for the request path itself). */
    readonly param: string,
    message: string,
  ) {
    super(`${param}: ${message}`);
    this.name = 'BadRequestError';
  }
}

/** `decodeURIComponent` for a path segment or parameter: a malformed %-escape is a BadRequestError. */
export function decodePathParam(param: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new BadRequestError(param, `${JSON.stringify(text.slice(0, 200))} has a malformed %-escape`);
  }
}
