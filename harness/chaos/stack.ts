import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
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
import { buildPipedriveSim } from '../pipedrive-sim/server.js';
import type { ChaosPipedrive } from './crms.js';
import { TcpFaultProxy } from '../fault-proxy/tcp-fault-proxy.js';
import type { SyncTarget } from './synchronizer.js';
import { WorkerProcesses, type WorkerEntry } from './worker-processes.js';

export interface ChaosStackOptions {
  /** A role that may CREATE DATABASE (TEST_DATABASE_URL); the run makes and drops its own database. */
  adminDatabaseUrl: string;
  /** The Redis to use (TEST_REDIS_URL); the run uses a queue prefix of its own and obliterates it. */
  redisUrl: string;
  portals: ReadonlyArray<{ portalId: number; token: string; contacts: number }>;
  /** A Pipedrive company beside the portals, its webhooks delivered (some dropped, repeated, reordered) to the apps. */
  pipedrive?: { companyId: number; token: string; persons: number };
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
  pipedrive: ChaosPipedrive | undefined;
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

    let pipedrive: ChaosPipedrive | undefined;
    const pipedriveEnv: Record<string, string> = {};
    const webhookTarget: { base?: string } = {};
    if (options.pipedrive) {
      const { companyId, token, persons } = options.pipedrive;
      const pd = await buildPipedriveSim({
        companies: [{ companyId, domain: 'chaos', tokens: [token], persons, windowLimit: 80 }],
        seed: options.simSeed,
        webhooks: { retryDelayMs: 500, maxAttempts: 3, timeoutMs: 5_000 },
      });
      // Webhooks are an accelerator: lost, repeated and reordered ones must change nothing in the end.
      pd.control.webhooks.setFaults({ dropRate: 0.2, duplicateRate: 0.2, reorder: true, delayMs: 200 });
      await pd.app.listen({ port: 0, host: '127.0.0.1' });
      cleanups.push(() => pd.app.close());
      pipedrive = { companyId, domain: 'chaos', control: pd.control };
      // PUBLIC_URL must be known before the apps listen: a forwarder to the first one.
      const forwarder = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          if (!webhookTarget.base) {
            res.statusCode = 503;
            res.end();
            return;
          }
          fetch(`${webhookTarget.base}${req.url}`, { method: req.method, headers: { 'content-type': req.headers['content-type'] ?? 'application/json', authorization: req.headers.authorization ?? '' }, body: Buffer.concat(chunks) })
            .then(async (answer) => {
              res.statusCode = answer.status;
              res.end(Buffer.from(await answer.arrayBuffer()));
            })
            .catch(() => {
              res.statusCode = 502;
              res.end();
            });
        });
      });
      await new Promise<void>((r) => forwarder.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise<void>((r) => forwarder.close(() => r())));
      Object.assign(pipedriveEnv, {
        PIPEDRIVE_BASE_URL: `http://127.0.0.1:${(pd.app.server.address() as { port: number }).port}`,
        PIPEDRIVE_OVERLAP_SECONDS: '5',
        // Webhooks are lost here far more often than Pipedrive loses them: the poll that is their
        // safety net comes within seconds, not WEBHOOK_POLL_INTERVAL_SECONDS' quarter of an hour.
        WEBHOOK_POLL_INTERVAL_SECONDS: '3',
        PUBLIC_URL: `http://127.0.0.1:${(forwarder.address() as { port: number }).port}`,
      });
    }

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
      ...pipedriveEnv,
      ...options.env,
    };
    cleanups.push(() => obliterateQueuePrefix(options.redisUrl, queuePrefix));

    const targets: SyncTarget[] = [];
    for (const pageSize of [1000, options.smallPageSize]) {
      const app = await startApp({ ...env, SYNC_PAGE_SIZE: String(pageSize) }, cleanups);
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}${app.config.SYNC_PATH}`;
      const smallPages = pageSize === options.smallPageSize;
      webhookTarget.base ??= `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
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
      pipedrive,
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
