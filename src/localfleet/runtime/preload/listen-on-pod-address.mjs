// Preloaded (NODE_OPTIONS=--import) into every Node.js pod process the local pod runtime starts.
// Programs in Kubernetes listen on 0.0.0.0 (or ::, or no host at all); locally each pod owns one
// loopback address (MERIDIAN_POD_ADDRESS), so every TCP listen and UDP bind that names no host, an
// unspecified host or any non-loopback host is moved to that address. The program runs unchanged
// and never listens beyond loopback. Plain JavaScript: it must load before any TypeScript hook.
import dgram from 'node:dgram';
import net from 'node:net';

const podAddress = process.env.MERIDIAN_POD_ADDRESS;

const isLoopback = (h) =>
  h === 'localhost' || h === '::1' || h.startsWith('127.') || h.startsWith('::ffff:127.');

/** The host to listen on instead of `host`. */
const hostFor = (host) => (typeof host === 'string' && host !== '' && isLoopback(host) ? host : podAddress);

if (podAddress) {
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (...args) {
    const [first] = args;
    if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
      // listen(options[, cb]), unless it is a handle or a path (a unix socket stays as it is).
      if (
        first.path === undefined &&
        first.handle === undefined &&
        first._handle === undefined &&
        first.fd === undefined
      ) {
        args[0] = { ...first, host: hostFor(first.host) };
      }
    } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
      // listen(port[, host][, backlog][, cb])
      if (typeof args[1] === 'string') args[1] = hostFor(args[1]);
      else args.splice(1, 0, podAddress);
    } else if (first === undefined || first === null || typeof first === 'function') {
      // listen() / listen(cb): a random port on every address.
      args.splice(0, first === undefined || first === null ? 1 : 0, 0, podAddress);
    }
    return listen.apply(this, args);
  };

  const bind = dgram.Socket.prototype.bind;
  dgram.Socket.prototype.bind = function (...args) {
    const [first] = args;
    if (first !== null && typeof first === 'object') {
      if (first.fd === undefined) args[0] = { ...first, address: hostFor(first.address) };
    } else if (typeof first === 'number' || typeof first === 'string') {
      // bind(port[, address][, cb])
      if (typeof args[1] === 'string') args[1] = hostFor(args[1]);
      else args.splice(1, 0, podAddress);
    } else {
      // bind() / bind(cb): a random port on every address.
      args.splice(0, typeof first === 'function' ? 0 : 1, 0, podAddress);
    }
    return bind.apply(this, args);
  };
}
