import { randomBytes } from 'node:crypto';
import { createDatabase, type Database } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { withClient } from '../../src/db/with-client.js';

export interface BenchDatabase extends Database {
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh, migrated database on the server the tests use (TEST_DATABASE_URL, a role that may
 * create databases), dropped at the end, so a benchmark never touches real data.
 */
export async function createBenchDatabase(adminUrl: string, poolSize: number): Promise<BenchDatabase> {
  const name = `cb_bench_${randomBytes(4).toString('hex')}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = createDatabase({ url: url.toString(), max: poolSize, applicationName: 'contact-bridge-bench' });
  await runMigrations(database.db);
  return {
    ...database,
    url: url.toString(),
    drop: async () => {
      await database.close();
      await withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
