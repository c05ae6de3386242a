// Stand-in member Prometheus servers for the metrics unit tests: real HTTP servers on loopback,
// each answering as its test needs, closed together when the test file ends.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class StandInMembers {
  private readonly servers: Server[] = [];

  /** Starts a server on a free loopback port answering with `handler`; its base URL. */
  start(handler: RequestListener): Promise<string> {
    const s = createServer(handler);
    this.servers.push(s);
    return new Promise((resolve) =>
      s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)),
    );
  }

  close(): void {
    for (const s of this.servers) s.close();
  }
}
