import pg from 'pg';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import * as schema from './schema.js';

// With the pool it runs on: the mirror writer takes a client of its own from it for COPY.
export type Db = NodePgDatabase<typeof schema> & { $client: pg.Pool };
/** A drizzle database or an open transaction: data-access functions take either, the caller owns the boundary. */
export type Executor = Db | Parameters<Parameters<Db['transaction']>[0]>[0];

export interface Database {
  pool: pg.Pool;
  db: Db;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url: string;
  max?: number;
  applicationName?: string;
}

export function createDatabase({ url, max = 10, applicationName = 'contact-bridge' }: DatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    application_name: applicationName,
    // Bounded waits, so an unreachable database turns into a 503 instead of a hung request.
    connectionTimeoutMillis: 5_000,
    query_timeout: 30_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (database restart) must not crash the process;
  // the pool discards it and the next query opens a new one.
  pool.on('error', () => {});
  const db = drizzle(pool, { schema });
  return { pool, db, close: () => pool.end() };
}
