// The PostgreSQL store's URL handling; its queries run against a real PostgreSQL in
// test/trace-store-postgres.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseUrlHost, redactDatabaseUrl } from './postgres-trace-store.ts';

test('redacts the password and password-like parameters of a database URL', () => {
  assert.equal(
    redactDatabaseUrl('postgres://u:p%40ss@db:5432/t?sslpassword=x&sslmode=require'),
    'postgres://u:REDACTED@db:5432/t?sslpassword=REDACTED&sslmode=require',
  );
  assert.equal(redactDatabaseUrl('postgres://db/t'), 'postgres://db/t');
  assert.equal(redactDatabaseUrl('not a url with secret'), '<unparseable database URL>');
});

test('names the host a database URL dials, and refuses other schemes without showing the password', () => {
  assert.equal(databaseUrlHost('postgres://u:p@127.0.0.1:5432/t'), '127.0.0.1');
  assert.equal(databaseUrlHost('postgresql://[::1]/t'), '::1');
  assert.equal(databaseUrlHost('postgres:///t'), 'localhost');
  assert.throws(
    () => databaseUrlHost('mysql://u:hunter2@db/t'),
    (e: Error) => {
      assert.match(e.message, /scheme must be postgres:\/\//);
      assert.doesNotMatch(e.message, /hunter2/);
      return true;
    },
  );
  assert.throws(() => databaseUrlHost('hunter2'), /is not a URL/);
});
