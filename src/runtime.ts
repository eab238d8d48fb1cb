// The composition root: one function turns the configuration (plus a few overrides) into a
// running process. src/server.ts, every test stack, the demo, the benchmarks and the chaos and
// load scripts build through it, so what the tests run is what production runs.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { buildApp, type App } from './app.js';
import type { Config } from './config.js';
import { createDatabase, type Database } from './db/client.js';
import { runMigrations } from './db/migrate.js';
import { createConnectors, type ConnectorRegistry } from './crm/registry.js';
import { connectApiIngest, type IngestControl } from './ingest/control.js';
import { countJobs, pingQueue } from './ingest/queue.js';
import { connectApiWebhooks } from './webhooks/enqueue.js';
import { createLogger } from './logging.js';
import { Metrics, type MetricsOptions } from './metrics/registry.js';
import { buildMetricsServer } from './metrics/server.js';
import { startTenantFiguresSchedule } from './metrics/tenant-figures-schedule.js';
import { deriveKeys, type BridgeKeys } from './tenants/keys.js';
import { Onboarding } from './tenants/onboarding.js';
import { hubspotApp } from './connect/hubspot-app.js';
import { buildWorkerOpsApp } from './worker-ops-app.js';
import { startWorkers, type RunningWorkers } from '../workers/index.js';

export interface RuntimeOverrides {
  /**
   * A pool the caller made and owns (a test's fresh database, or one behind a fault proxy); the
   * runtime neither migrates nor closes it. Default: a pool on DATABASE_URL.
   */
  database?: Database;
  /** Default: the process's logger (pino at LOG_LEVEL, secrets redacted). */
  logger?: Logger;
  /** How often the workers compare the schedules with the database (default 5 minutes). */
  reconcileSchedulesMs?: number;
  /** How often the workers make and remove webhook subscriptions (default: SYNC_INTERVAL_SECONDS, at most 5 s). */
  webhookSubscriptionsMs?: number;
  /** How often and how long the per-tenant figures are computed (default: METRICS_TENANT_REFRESH_SECONDS, 10 s). */
  metricsOptions?: MetricsOptions;
  /** The clock of onboarding's failure memory and the ingest passes. */
  now?: () => number;
}

export interface Runtime {
  config: Config;
  log: Logger;
  database: Database;
  keys: BridgeKeys;
  /** One registry for the API and the workers of this process: /metrics shows both. */
  metrics: Metrics;
  /** One connector per enabled CRM, shared by the API and the workers (one rate limiter per CRM account). */
  connectors: ConnectorRegistry;
  /** The API (ROLE=all|api). */
  app?: App;
  /** The API's side of the ingest queue (ROLE=all|api). */
  ingest?: IngestControl;
  /** The ingest workers (ROLE=all|worker). */
  workers?: RunningWorkers;
  /** What listens on PORT: the API, or a worker-only process's /metrics, /healthz and /readyz. */
  server: App | Awaited<ReturnType<typeof buildWorkerOpsApp>>;
  /**
   * The internal metrics server's base URL once listen() has bound it (METRICS_TOKEN unset,
   * METRICS_PORT not off); undefined before, without one, or when its port was not free.
   */
  readonly metricsUrl: string | undefined;
  /** Listens on METRICS_HOST:METRICS_PORT where that is served, then HOST:PORT (PORT=0: an ephemeral port), and returns PORT's base URL. */
  listen(): Promise<string>;
  /**
   * Closes in order: stop accepting and let in-flight requests finish, then the workers (a
   * running job finishes its page and goes back to the queue), the queue, the metrics server
   * and the figures' schedule, the pool.
   */
  close(): Promise<void>;
}

export async function buildRuntime(config: Config, overrides: RuntimeOverrides = {}): Promise<Runtime> {
  const log = overrides.logger ?? createLogger(config.LOG_LEVEL);
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) {
      await closer().catch((err: Error) => log.error({ err: err.message }, 'error while closing'));
    }
  };
  try {
    // Named per process, so pg_stat_activity (and pg_locks joined to it) tells which process
    // holds which connection, and which tenant's ingest lock.
    const database =
      overrides.database ??
      createDatabase({ url: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE, applicationName: `contact-bridge ${config.ROLE} ${process.pid}` });
    if (!overrides.database) {
      closers.push(() => database.close());
      if (config.MIGRATE_ON_START) await runMigrations(database.db);
    }
    const keys = deriveKeys(config.BRIDGE_SECRET, config.BRIDGE_SECRET_PREVIOUS);
    const metrics = new Metrics({ tenantRefreshMs: config.METRICS_TENANT_REFRESH_SECONDS * 1000, ...overrides.metricsOptions });
    const metricsLog = log.child({ role: 'metrics' });
    // Without METRICS_TOKEN, PORT answers /metrics 404 and this server serves it (METRICS_PORT).
    const metricsServer =
      config.METRICS_TOKEN === undefined && config.METRICS_PORT !== 'off'
        ? buildMetricsServer({ metrics, host: config.METRICS_HOST, port: config.METRICS_PORT, log: metricsLog })
        : undefined;
    // Computed only where something serves them.
    if (config.METRICS_TOKEN !== undefined || metricsServer) {
      const figures = startTenantFiguresSchedule({ db: database.db, metrics, log: metricsLog });
      closers.push(() => figures.stop());
    }
    if (metricsServer) closers.push(() => metricsServer.close());
    const connectors = createConnectors(config, { onResponse: metrics.countCrmResponse });
    // Customers connect portals through the HubSpot app; its workers keep their tokens fresh.
    const hubspot = connectors.get('hubspot') ? hubspotApp(config) : undefined;
    const runsApi = config.ROLE === 'all' || config.ROLE === 'api';
    const runsWorkers = config.ROLE === 'all' || config.ROLE === 'worker';

    let workers: RunningWorkers | undefined;
    if (runsWorkers) {
      const workerLog = log.child({ role: 'worker' });
      workers = await startWorkers({
        config,
        db: database.db,
        pool: database.pool,
        keys,
        connectors,
        log: workerLog,
        metrics,
        reconcileSchedulesMs: overrides.reconcileSchedulesMs,
        webhookSubscriptionsMs: overrides.webhookSubscriptionsMs,
        now: overrides.now,
        connections: hubspot?.refresher,
      });
      closers.push(() => workers!.close());
      workerLog.info({ concurrency: config.WORKER_CONCURRENCY, crm: connectors.kinds }, 'ingest workers started');
    }

    let app: App | undefined;
    let ingest: IngestControl | undefined;
    let server: Runtime['server'];
    if (runsApi) {
      const apiLog = log.child({ role: 'api' });
      // Talkdesk calls bridges over HTTPS only: an http PUBLIC_URL registers URLs it will not call.
      if (config.PUBLIC_URL !== undefined && !/^https:/i.test(config.PUBLIC_URL)) {
        apiLog.warn({ PUBLIC_URL: config.PUBLIC_URL }, 'PUBLIC_URL is not https: Talkdesk calls bridges over HTTPS only');
      }
      // The API only adds jobs; its Redis connection fails fast so a Redis outage never holds a request.
      const api = connectApiIngest(config.REDIS_URL, config.QUEUE_PREFIX, config.SYNC_INTERVAL_SECONDS * 1000, apiLog);
      closers.push(() => api.close());
      ingest = api.control;
      const hooks = connectApiWebhooks(config.REDIS_URL, config.QUEUE_PREFIX);
      closers.push(() => hooks.close());
      const onboarding = connectors.size > 0 ? new Onboarding({ db: database.db, keys, connectors, ingest, mode: config.ONBOARDING, now: overrides.now }) : undefined;
      app = await buildApp({
        config,
        db: database.db,
        keys,
        metrics,
        connectors,
        ingest,
        webhooks: hooks.enqueue,
        onboarding,
        hubspotApp: hubspot,
        logger: apiLog,
        // The workers share this process: readiness then includes the Redis they depend on.
        pingRedis: workers ? () => pingQueue(workers!.queue) : undefined,
        // Without a terminating proxy in front, the server speaks HTTPS itself (Talkdesk requires it).
        https:
          config.TLS_CERT_FILE && config.TLS_KEY_FILE
            ? { cert: readFileSync(config.TLS_CERT_FILE), key: readFileSync(config.TLS_KEY_FILE) }
            : undefined,
      });
      closers.push(() => app!.close());
      server = app;
    } else {
      const queue = workers!.queue;
      server = await buildWorkerOpsApp({
        config,
        db: database.db,
        metrics,
        pingRedis: () => pingQueue(queue),
        jobCounts: (states) => countJobs(queue, states),
        logger: log.child({ role: 'worker' }),
      });
      closers.push(() => server.close());
    }

    return {
      config,
      log,
      database,
      keys,
      metrics,
      connectors,
      app,
      ingest,
      workers,
      server,
      get metricsUrl() {
        return metricsServer?.url;
      },
      async listen() {
        // First: once PORT answers, so does the metrics port (or it has said why not).
        await metricsServer?.listen();
        return server.listen({ port: config.PORT, host: config.HOST });
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
