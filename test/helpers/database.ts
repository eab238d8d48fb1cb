import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { createDatabase, type Database, type DatabaseOptions } from '../../src/db/client.js';
import { TcpFaultProxy } from '../../harness/fault-proxy/tcp-fault-proxy.js';
import { runMigrations } from '../../src/db/migrate.js';
import { withClient } from '../../src/db/with-client.js';
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
    await dropDatabase(admin, name);
  });
  await runMigrations(database.db);
  return { ...database, url: url.toString() };
}

export interface ProxiedDatabase extends Database {
  /** The proxy between this pool and PostgreSQL: `setMode` injects an outage for this pool alone. */
  proxy: TcpFaultProxy;
  /** The database's URL through the proxy. */
  url: string;
}

/**
 * A second pool on `database`, through a TCP fault proxy, so a test can cut PostgreSQL off from
 * its app or workers without touching the server other tests share. In teardown the proxy is
 * put back up before the pool closes (closing waits for each connection to say goodbye).
 */
export async function databaseBehindProxy(
  t: Test,
  database: TestDatabase,
  options: Omit<DatabaseOptions, 'url'> = {},
): Promise<ProxiedDatabase> {
  const target = new URL(database.url);
  const proxy = await TcpFaultProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
  t.teardown(() => proxy.close());
  const url = proxy.rewrite(database.url);
  const proxied = createDatabase({ applicationName: 'contact-bridge-proxied', ...options, url });
  t.teardown(() => proxied.close());
  t.teardown(() => proxy.setMode('up'));
  return { ...proxied, proxy, url };
}

/**
 * What a PostgreSQL restart does to a database's clients: every backend of that database (and
 * of no other) is terminated. Connects directly, not through any proxy. Returns how many.
 */
export async function terminateBackends(database: TestDatabase): Promise<number> {
  const admin = await postgresAdminUrl();
  const name = new URL(database.url).pathname.slice(1);
  return withClient(admin, async (c) => {
    const res = await c.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    return res.rowCount ?? 0;
  });
}

/**
 * Waits until no backend of the database is running a statement. A statement the client sent just
 * before a cut (a COMMIT already past the proxy) still completes on the server; what is committed
 * "at the cut" is only known once it has. A backend waiting on the client (a COPY cut off
 * mid-stream) is not running anything.
 */
export async function statementsSettled(database: TestDatabase, timeoutMs = 10_000): Promise<void> {
  const admin = await postgresAdminUrl();
  const name = new URL(database.url).pathname.slice(1);
  const until = Date.now() + timeoutMs;
  await withClient(admin, async (c) => {
    for (;;) {
      const res = await c.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND state = 'active' AND wait_event IS DISTINCT FROM 'ClientRead'",
        [name],
      );
      if (res.rows[0]!.n === 0) return;
      if (Date.now() > until) throw new Error(`statements still running on ${name} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
}

/**
 * DROP DATABASE … WITH (FORCE), retried a few times: an autovacuum worker that has just started on
 * the database is a backend of the bootstrap superuser, which our role may not terminate (42501);
 * it ends by itself within moments.
 */
async function dropDatabase(admin: string, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '42501' || attempt === 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}
