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
  /**
   * How long to wait for a connection: a new one (TCP and start-up), or a free one of a full pool.
   * With `queryTimeoutMs`, the longest a request waits on an unreachable database before its 503.
   */
  connectTimeoutMs?: number;
  /**
   * How long a statement may go unanswered on an open connection: a database behind a dead
   * network path never answers and never closes the socket, so only this ends the wait.
   */
  queryTimeoutMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;

export function createDatabase({
  url,
  max = 10,
  applicationName = 'contact-bridge',
  connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
  queryTimeoutMs = DEFAULT_QUERY_TIMEOUT_MS,
}: DatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    application_name: applicationName,
    // Bounded waits, so an unreachable database turns into a 503 instead of a hung request.
    connectionTimeoutMillis: connectTimeoutMs,
    query_timeout: queryTimeoutMs,
    idleTimeoutMillis: 30_000,
    // A peer that vanished without a FIN or RST (a dead host, a dropped NAT entry) is noticed by
    // the kernel's probes instead of holding a pooled connection open forever.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // An idle client losing its connection (database restart) must not crash the process;
  // the pool discards it and the next query opens a new one.
  pool.on('error', () => {});
  // The pool listens for errors only while a client is idle in it. A client checked out and
  // between two queries (the ingest's advisory-lock session, a transaction running JavaScript)
  // emits an 'error' nobody hears when its backend is terminated, and an unheard 'error' ends the
  // process. The failure still reaches the caller through its next query, and a broken client
  // is discarded when released.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = drizzle(pool, { schema });
  return { pool, db, close: () => pool.end() };
}
