// A GSLB DNS server in a process of its own, for tests that must not share its event loop (a
// burst sent from the test process would otherwise be timed as the server's): serves
// shop.example.test → 192.0.2.1 on the address given as argv[2], prints its UDP port, and
// exits when its stdin closes.
import { GslbDnsServer } from '../../src/traffic/dns/dns-server.ts';
import { defaultZoneConfig } from '../../src/traffic/dns/gslb-answer.ts';
import { clusterTarget, publishedRoute } from '../../src/traffic/routing/routing-fixtures.ts';
import { StaticRoutingTable } from '../../src/traffic/routing/routing.ts';

const server = new GslbDnsServer({
  host: process.argv[2] ?? '127.0.0.1',
  port: 0,
  table: new StaticRoutingTable([
    publishedRoute(
      'shop',
      'example.test',
      { type: 'Failover', order: [] },
      [clusterTarget('eu', ['192.0.2.1'])],
      30,
    ),
  ]),
  zone: defaultZoneConfig(['example.test'], { nameserverAddresses: ['192.0.2.53'] }),
});
const { udpPort } = await server.start();
process.stdout.write(`${udpPort}\n`);
process.stdin.resume();
process.stdin.on('end', () => void server.stop().then(() => process.exit(0)));
