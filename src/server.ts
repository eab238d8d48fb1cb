// The process: read the configuration, connect, migrate, then run the API, the workers or both
// (ROLE), and close gracefully on SIGTERM/SIGINT.
import { existsSync, readFileSync } from 'node:fs';
import closeWithGrace from 'close-with-grace';
import { createLogger } from './logging.js';
import { Metrics } from './metrics/registry.js';
import { buildApp } from './app.js';
import { buildWorkerOpsApp } from './worker-ops-app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDatabase } from './db/client.js';
import { runMigrations } from './db/migrate.js';
import { createConnector } from './crm/create-connector.js';
import { deriveKeys } from './tenants/keys.js';
import { startWorkers } from '../workers/index.js';
import { connectApiQueue } from '../workers/api-queue.js';

// A local .env (see .env.example) is a convenience for development; real environment variables win.
if (existsSync('.env')) process.loadEnvFile('.env');

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(1);
}

const log = createLogger(config.LOG_LEVEL);
// Named per process, so pg_stat_activity (and pg_locks joined to it) tells which process holds
// which connection, and which tenant's ingest lock.
const database = createDatabase({
  url: config.DATABASE_URL,
  max: config.DATABASE_POOL_SIZE,
  applicationName: `contact-bridge ${config.ROLE} ${process.pid}`,
});
if (config.MIGRATE_ON_START) await runMigrations(database.db);
// One registry for the API and the workers of this process: /metrics shows both.
const metrics = new Metrics();
const connector = createConnector(config, { onResponse: metrics.countCrmResponse });
const closers: Array<() => Promise<void>> = [];

if (config.ROLE === 'all' || config.ROLE === 'worker') {
  const workers = await startWorkers({
    config,
    db: database.db,
    pool: database.pool,
    keys: deriveKeys(config.BRIDGE_SECRET, config.BRIDGE_SECRET_PREVIOUS),
    connector,
    log: log.child({ role: 'worker' }),
    metrics,
  });
  closers.push(() => workers.close());
  log.info({ concurrency: config.WORKER_CONCURRENCY }, 'ingest workers started');
  if (config.ROLE === 'worker') {
    const ops = await buildWorkerOpsApp({ config, db: database.db, queue: workers.queue, metrics, logger: log.child({ role: 'worker' }) });
    closers.unshift(() => ops.close());
    await ops.listen({ port: config.PORT, host: config.HOST });
  }
}

if (config.ROLE === 'all' || config.ROLE === 'api') {
  // The API only adds jobs; its Redis connection fails fast so a Redis outage never holds a request.
  const { queue, ingest, close: closeQueue } = connectApiQueue(config.REDIS_URL, config.QUEUE_PREFIX, config.SYNC_INTERVAL_SECONDS * 1000);
  const app = await buildApp({
    config,
    db: database.db,
    connector,
    ingest,
    queue,
    logger: log.child({ role: 'api' }),
    metrics,
    // The workers share this process: readiness then includes the Redis they depend on.
    checkRedis: config.ROLE === 'all',
    // Without a terminating proxy in front, the server speaks HTTPS itself (Talkdesk requires it).
    https:
      config.TLS_CERT_FILE && config.TLS_KEY_FILE
        ? { cert: readFileSync(config.TLS_CERT_FILE), key: readFileSync(config.TLS_KEY_FILE) }
        : undefined,
  });
  // Stop accepting first, let in-flight requests finish, then drop the queue connection.
  closers.unshift(async () => {
    await app.close();
    await closeQueue();
  });
  await app.listen({ port: config.PORT, host: config.HOST });
}

// SIGTERM/SIGINT: stop accepting and let in-flight requests finish, then the workers (a running
// job finishes its page and goes back to the queue), then the pool; exit 0. Past the deadline
// close-with-grace exits non-zero rather than hang a deployment.
closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_SECONDS * 1000, logger: false }, async ({ signal, err }) => {
  if (err) log.error({ err }, 'closing after an unexpected error');
  else log.info({ signal }, 'shutting down');
  for (const close of closers) await close().catch((e: Error) => log.error({ err: e.message }, 'error while closing'));
  await database.close();
  log.info('closed');
});
