import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { databasePeer } from './database-peer.ts';

const caller = { service: 'app2', cluster: 'eu-west', region: 'eu-west', namespace: 'shop' };

describe('databasePeer', () => {
  test('a clusterset name is the Service in no particular cluster', () => {
    assert.deepEqual(databasePeer(caller, 'postgresql', 'db.shop.svc.clusterset.local'), {
      service: 'db',
      namespace: 'shop',
    });
  });

  test("cluster-local names are the caller's cluster, short names its namespace", () => {
    for (const address of ['db.data.svc.cluster.local', 'db.data.svc', 'db.data']) {
      assert.deepEqual(databasePeer(caller, 'postgresql', address), {
        service: 'db',
        namespace: 'data',
        cluster: 'eu-west',
        region: 'eu-west',
      });
    }
    assert.deepEqual(databasePeer(caller, 'postgresql', 'db'), {
      service: 'db',
      namespace: 'shop',
      cluster: 'eu-west',
      region: 'eu-west',
    });
  });

  test('an address without a name shows the database system; peer.service wins', () => {
    assert.equal(databasePeer(caller, 'postgresql', '10.0.0.7')?.service, 'postgresql');
    assert.equal(databasePeer(caller, 'postgresql', '::1')?.service, 'postgresql');
    assert.equal(databasePeer(caller, 'postgresql', 'db.shop.svc', 'orders-db')?.service, 'orders-db');
  });

  test('an outside host keeps its name; no database system, no peer', () => {
    assert.deepEqual(databasePeer(caller, 'postgresql', 'orders.abc.eu-west-1.rds.amazonaws.com'), {
      service: 'orders.abc.eu-west-1.rds.amazonaws.com',
    });
    assert.equal(databasePeer(caller, undefined, 'db.shop.svc'), undefined);
  });
});
