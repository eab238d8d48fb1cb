import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createConnector } from '../../src/crm/create-connector.js';
import { createDatabase, type Database } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { connectApiQueue } from '../../workers/api-queue.js';
import { ingestQueue } from '../../workers/queues.js';
import { buildHubSpotSim } from '../hubspot-sim/server.js';
import type { SimControl } from '../hubspot-sim/control.js';
import { TcpFaultProxy } from '../fault-proxy/tcp-fault-proxy.js';
import type { SyncTarget } from './synchronizer.js';
import { WorkerProcesses, type WorkerEntry } from './worker-processes.js';

export interface ChaosStackOptions {
  /** A role that may CREATE DATABASE (TEST_DATABASE_URL); the run makes and drops its own database. */
  adminDatabaseUrl: string;
  /** The Redis to use (TEST_REDIS_URL); the run uses a queue prefix of its own and obliterates it. */
  redisUrl: string;
  portals: ReadonlyArray<{ portalId: number; token: string; contacts: number }>;
  simSeed: number;
  workers: number;
  workerEntry: WorkerEntry;
  /** The page size of the second app, so some runs page through many small pages. */
  smallPageSize: number;
  /** Settings of the bridge (app and workers alike), over the chaos defaults. */
  env?: Record<string, string>;
  onWorkerOutput?: (line: string) => void;
}

export interface ChaosStack {
  sim: SimControl;
  /** A direct connection to the chaos database, for the run's own reads; not behind the proxy. */
  database: Database;
  postgresProxy: TcpFaultProxy;
  redisProxy: TcpFaultProxy;
  workers: WorkerProcesses;
  targets: SyncTarget[];
  /** The bridge's settings, as the app and the workers read them. */
  env: Record<string, string>;
  terminateBackends(): Promise<number>;
  close(): Promise<void>;
}

/** The application name of the run's own connections, which a "PostgreSQL restart" spares. */
const HARNESS = 'contact-bridge-chaos';

/**
 * The chaos run's world, built from the shared PostgreSQL and Redis without disturbing them: a
 * database and a queue prefix of its own, TCP fault proxies in front of both servers for the
 * app and the workers, the HubSpot simulator, two apps (large and small pages) listening on
 * ports, and real worker processes.
 */
export async function startChaosStack(options: ChaosStackOptions): Promise<ChaosStack> {
  const cleanups: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
  };
  try {
    const name = `cb_chaos_${randomBytes(6).toString('hex')}`;
    await adminQuery(options.adminDatabaseUrl, `CREATE DATABASE ${name}`);
    cleanups.push(() => adminQuery(options.adminDatabaseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    const databaseUrl = new URL(options.adminDatabaseUrl);
    databaseUrl.pathname = `/${name}`;
    const database = createDatabase({ url: databaseUrl.toString(), max: 4, applicationName: HARNESS });
    cleanups.push(() => database.close());
    await runMigrations(database.db);

    const postgresProxy = await TcpFaultProxy.start(hostPort(databaseUrl.toString(), 5432));
    cleanups.push(() => postgresProxy.close());
    const redisProxy = await TcpFaultProxy.start(hostPort(options.redisUrl, 6379));
    cleanups.push(() => redisProxy.close());

    const sim = await buildHubSpotSim({
      portals: options.portals.map((p) => ({ portalId: p.portalId, tokens: [p.token], contacts: p.contacts })),
      // HubSpot's search lags writes; the bridge's overlap window (below) is what covers it.
      searchLagMs: 1000,
      seed: options.simSeed,
    });
    await sim.app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => sim.app.close());

    const queuePrefix = `cbchaos${randomBytes(4).toString('hex')}`;
    const env: Record<string, string> = {
      DATABASE_URL: postgresProxy.rewrite(databaseUrl.toString()),
      REDIS_URL: redisProxy.rewrite(options.redisUrl),
      BRIDGE_SECRET: randomBytes(32).toString('base64url'),
      HUBSPOT_BASE_URL: `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}`,
      QUEUE_PREFIX: queuePrefix,
      DATABASE_POOL_SIZE: '4',
      SYNC_INTERVAL_SECONDS: '1',
      DELETE_RECONCILE_SECONDS: '2',
      HUBSPOT_SEARCH_OVERLAP_SECONDS: '5',
      DELETION_RESYNC_SECONDS: '10',
      INGEST_LOCK_SECONDS: '3',
      MIGRATE_ON_START: 'false',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'silent',
      ...options.env,
    };
    cleanups.push(() => obliterateQueue(options.redisUrl, queuePrefix));

    const targets: SyncTarget[] = [];
    for (const pageSize of [1000, options.smallPageSize]) {
      const app = await startApp({ ...env, SYNC_PAGE_SIZE: String(pageSize) }, cleanups);
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}${app.config.SYNC_PATH}`;
      const smallPages = pageSize === options.smallPageSize;
      targets.push({ transport: 'http', smallPages, endpoint: { url } });
      targets.push({
        transport: 'inject',
        smallPages,
        endpoint: async (body) => {
          const res = await app.inject({ method: 'POST', url: app.config.SYNC_PATH, payload: body as object });
          return { statusCode: res.statusCode, body: res.json() };
        },
      });
    }

    const workers = new WorkerProcesses(options.workerEntry, env, options.workers, options.onWorkerOutput);
    cleanups.push(() => workers.close());
    workers.startAll();

    return {
      sim: sim.control,
      database,
      postgresProxy,
      redisProxy,
      workers,
      targets,
      env,
      async terminateBackends() {
        const res = await database.pool.query<{ n: string }>(
          `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
           WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name <> $2`,
          [name, HARNESS],
        );
        return Number(res.rows[0]!.n);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** One of the bridge's API processes, in this process: its pool and queue go through the proxies. */
async function startApp(env: Record<string, string>, cleanups: Array<() => Promise<void>>): Promise<App> {
  const config = loadConfig(env);
  const database = createDatabase({ url: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE });
  cleanups.push(() => database.close());
  // The API's queue as src/server.ts connects it: its Redis commands fail fast while Redis is away.
  const { queue, ingest, close: closeQueue } = connectApiQueue(config.REDIS_URL, config.QUEUE_PREFIX, config.SYNC_INTERVAL_SECONDS * 1000);
  cleanups.push(closeQueue);
  const app = await buildApp({ config, db: database.db, connector: createConnector(config), ingest, queue });
  cleanups.push(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
}

/** Removes every key of the run's queue prefix, on a direct connection (the proxy may be closed). */
async function obliterateQueue(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    const queue = ingestQueue(redis, prefix);
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close().catch(() => {});
    // Obliterate leaves a few bookkeeping keys (schedulers, dedup markers); the prefix is ours alone.
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

function hostPort(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname || '127.0.0.1', port: u.port ? Number(u.port) : defaultPort };
}

async function adminQuery(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, application_name: HARNESS });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
