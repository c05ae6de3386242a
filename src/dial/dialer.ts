// Every outgoing connection of the product starts here: TCP streams, HTTP(S) requests (node's
// clients, undici and fetch) and datagrams to an address of our choosing. Each applies the
// loopback guard (dial-guard.ts) first, so local mode cannot reach past loopback whichever client
// a service picks; dialer.test.ts fails on a connection opened anywhere else.
import type { Socket as UdpSocket } from 'node:dgram';
import http from 'node:http';
import https from 'node:https';
import { Socket, connect, type TcpNetConnectOpts } from 'node:net';
import { request as undiciRequest } from 'undici';
import { assertLoopbackAllowed } from './dial-guard.ts';

declare const guarded: unique symbol;
/** A host the guard has allowed: dialing it again needs no check (for hot paths that dial often). */
export type GuardedHost = string & { readonly [guarded]: true };

/** `host` once the guard allows it; throws NonLoopbackDial when it does not. */
export function guardHost(host: string): GuardedHost {
  assertLoopbackAllowed(host);
  return host as GuardedHost;
}

/** A TCP connection to a host the guard already allowed (see guardHost). */
export function dialGuardedTcp(options: TcpNetConnectOpts & { readonly host: GuardedHost }): Socket {
  return connect(options);
}

/**
 * Unconnected TCP sockets for a client library that connects them itself (the `pg` pool's
 * `stream` option), for connections to `host`, which the guard checks here, once.
 */
export function tcpSocketsTo(host: string): () => Socket {
  assertLoopbackAllowed(host);
  return () => new Socket();
}

/** A TCP connection (`net.connect`) to `options.host` (default localhost). */
export function dialTcp(options: TcpNetConnectOpts): Socket {
  assertLoopbackAllowed(options.host ?? 'localhost');
  return connect(options);
}

/** An HTTP request, over TLS when `secure` (node's `http(s).request`). */
export function dialHttp(
  options: https.RequestOptions,
  secure: boolean,
  onResponse?: (res: http.IncomingMessage) => void,
): http.ClientRequest {
  assertLoopbackAllowed(options.hostname ?? options.host ?? 'localhost');
  return (secure ? https : http).request(options, onResponse);
}

/** undici's `request` (a keep-alive pool per origin, cheaper per call than fetch). */
export function dialUndici(
  url: URL,
  options: Parameters<typeof undiciRequest>[1],
): ReturnType<typeof undiciRequest> {
  assertLoopbackAllowed(url.hostname);
  return undiciRequest(url, options);
}

/** The platform's `fetch` (a refused address rejects, as a network error would). */
export async function dialFetch(url: string | URL, init?: RequestInit): Promise<Response> {
  assertLoopbackAllowed(new URL(url).hostname);
  return fetch(url, init);
}

/** A datagram sent to an address we chose (not a reply to whoever asked). */
export function sendDatagram(socket: UdpSocket, message: Uint8Array, port: number, address: string): void {
  assertLoopbackAllowed(address);
  socket.send(message, port, address);
}
