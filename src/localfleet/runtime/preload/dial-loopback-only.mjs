// Preloaded (NODE_OPTIONS=--import) into every Node.js pod process the local pod runtime starts.
// In local mode (MERIDIAN_LOOPBACK_ONLY=1) a pod process dials loopback only, as Meridian's own
// processes do through the dial guard (src/kube/dial-guard.ts): a TCP connect or a UDP send or
// connect to an IP literal that is not loopback fails with EHOSTUNREACH before any packet leaves.
// Names need no check here: in local mode the cluster DNS preload resolves only to loopback.
// Plain JavaScript with no dependencies: it is loaded into programs that are not Meridian's.
import dgram from 'node:dgram';
import net from 'node:net';

const isLoopback = (h) => {
  const a = h.replace(/^\[|\]$/g, '').toLowerCase();
  if (net.isIPv4(a)) return a.startsWith('127.');
  return a === '::1' || a === '0:0:0:0:0:0:0:1' || a.startsWith('::ffff:127.');
};

/** The error a refused dial gets (what the kernel says for an address with no route). */
function unreachable(host, port) {
  const err = new Error(
    `connect EHOSTUNREACH ${host}:${port} (local mode: a pod process of the local fleet dials loopback only)`,
  );
  return Object.assign(err, { errno: -113, code: 'EHOSTUNREACH', syscall: 'connect', address: host, port });
}

/** Whether `host` is an IP literal the process must not dial. */
const refused = (host) =>
  typeof host === 'string' && net.isIP(host.replace(/^\[|\]$/g, '')) !== 0 && !isLoopback(host);

if (process.env.MERIDIAN_LOOPBACK_ONLY === '1') {
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (...args) {
    const [first] = args;
    // connect(options[, cb]) (also what net.connect and http pass, sometimes as [options, cb]),
    // connect(port[, host][, cb]); a path (unix socket, net: `!!path`) is local.
    const opts = Array.isArray(first) ? first[0] : first;
    const host =
      opts !== null && typeof opts === 'object'
        ? !opts.path
          ? opts.host
          : undefined
        : typeof args[1] === 'string'
          ? args[1]
          : undefined;
    if (refused(host)) {
      const port = typeof opts === 'object' && opts !== null ? opts.port : first;
      process.nextTick(() => this.destroy(unreachable(host, port)));
      return this;
    }
    return connect.apply(this, args);
  };

  const send = dgram.Socket.prototype.send;
  dgram.Socket.prototype.send = function (...args) {
    // send(msg[, offset, length][, port][, address][, cb]): the address is the string after the port.
    const address = args.find((a, i) => i > 0 && typeof a === 'string');
    if (refused(address)) {
      const cb = args.find((a) => typeof a === 'function');
      const err = unreachable(
        address,
        args.find((a, i) => i > 0 && typeof a === 'number'),
      );
      if (cb) process.nextTick(cb, err);
      else process.nextTick(() => this.emit('error', err));
      return;
    }
    return send.apply(this, args);
  };

  const dconnect = dgram.Socket.prototype.connect;
  dgram.Socket.prototype.connect = function (port, address, cb) {
    if (refused(address)) {
      const err = unreachable(address, port);
      const done = typeof cb === 'function' ? cb : undefined;
      if (done) process.nextTick(done, err);
      else process.nextTick(() => this.emit('error', err));
      return;
    }
    return dconnect.call(this, port, address, cb);
  };
}
