import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createDatabase, type Database } from '../../src/db/client.js';
import { runMigrations } from '../../src/db/migrate.js';
import { buildRuntime } from '../../src/runtime.js';
import { httpSyncCall, injectSyncCall } from '../../src/cli/talkdesk-client.js';
import { newQueuePrefix, obliterateQueuePrefix } from '../queues/prefix.js';
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

    const queuePrefix = newQueuePrefix('cbchaos');
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
    cleanups.push(() => obliterateQueuePrefix(options.redisUrl, queuePrefix));

    const targets: SyncTarget[] = [];
    for (const pageSize of [1000, options.smallPageSize]) {
      const app = await startApp({ ...env, SYNC_PAGE_SIZE: String(pageSize) }, cleanups);
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}${app.config.SYNC_PATH}`;
      const smallPages = pageSize === options.smallPageSize;
      targets.push({ transport: 'http', smallPages, endpoint: httpSyncCall(url) });
      targets.push({ transport: 'inject', smallPages, endpoint: injectSyncCall(app, app.config.SYNC_PATH) });
    }

    // Info at least: the run reads each worker's "started" line (worker-processes.ts).
    const workerEnv = { ...env, LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'info' };
    const workers = new WorkerProcesses(options.workerEntry, workerEnv, options.workers, options.onWorkerOutput);
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

/** One of the bridge's API processes (ROLE=api), in this process: its pool and queue go through the proxies. */
async function startApp(env: Record<string, string>, cleanups: Array<() => Promise<void>>): Promise<App> {
  const runtime = await buildRuntime(loadConfig({ ...env, ROLE: 'api' }));
  cleanups.push(() => runtime.close());
  await runtime.listen();
  return runtime.app!;
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
