import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Test } from 'tap';
import { createDatabase, type Database } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { postgresAdminUrl } from './services.js';

export interface TestDatabase extends Database {
  url: string;
}

/** A fresh, migrated database for one test file (or test), dropped in teardown. */
export async function freshDatabase(t: Test, { max = 10 }: { max?: number } = {}): Promise<TestDatabase> {
  const admin = await postgresAdminUrl();
  const name = `cb_test_${randomBytes(6).toString('hex')}`;
  await withClient(admin, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const database = createDatabase({ url: url.toString(), max, applicationName: 'contact-bridge-test' });
  t.teardown(async () => {
    await database.close();
    await withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });
  await runMigrations(database.db);
  return { ...database, url: url.toString() };
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
