import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { Test } from 'tap';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createConnector } from '../../src/crm/create-connector.js';
import { deriveKeys } from '../../src/tenants/keys.js';
import { startWorkers, type RunningWorkers } from '../../workers/index.js';
import { connectApiQueue } from '../../workers/api-queue.js';
import { ingestQueue, redisConnection } from '../../workers/queues.js';
import { ADMIN_TOKEN } from './app.js';
import type { TestDatabase } from './database.js';
import type { SyncCall } from './talkdesk.js';

export interface BridgeProcess {
  app: App;
  config: Config;
  workers: RunningWorkers;
  sync: SyncCall;
  /** Stops it as SIGTERM would: the API, then the workers. Also done in teardown. */
  close(): Promise<void>;
}

/** A queue prefix of the test's own, obliterated in teardown, for bridges that share one queue. */
export async function queuePrefix(t: Test, redisUrl: string): Promise<string> {
  const prefix = `cbtest${randomBytes(4).toString('hex')}`;
  t.teardown(async () => {
    const connection = redisConnection(redisUrl, 'worker');
    const queue = ingestQueue(connection, prefix);
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    connection.disconnect();
  });
  return prefix;
}

/**
 * One bridge process (ROLE=all) on a given database: the app with its CRM connector and queue,
 * and the workers, configured from `env` exactly as server.ts would be. Two of them in turn on
 * one database and queue prefix stand for a restart with a new configuration.
 */
export async function startBridgeProcess(
  t: Test,
  database: TestDatabase,
  env: Record<string, string>,
  logger: Logger = pino({ level: 'silent' }),
): Promise<BridgeProcess> {
  const config = loadConfig({ DATABASE_URL: database.url, ADMIN_TOKEN, LOG_LEVEL: 'silent', ...env });
  const { queue, ingest, close: closeQueue } = connectApiQueue(config.REDIS_URL, config.QUEUE_PREFIX, config.SYNC_INTERVAL_SECONDS * 1000);
  const app = await buildApp({
    config,
    db: database.db,
    connector: createConnector(config),
    ingest,
    queue,
    logger: logger.child({ role: 'api' }),
  });
  const workers = await startWorkers({
    config,
    db: database.db,
    pool: database.pool,
    keys: deriveKeys(config.BRIDGE_SECRET, config.BRIDGE_SECRET_PREVIOUS),
    connector: createConnector(config),
    log: logger.child({ role: 'worker' }),
    reconcileSchedulesMs: 1_000,
  });
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await app.close();
      await workers.close();
      await closeQueue();
    })());
  t.teardown(close);
  const sync: SyncCall = async (body) => {
    const res = await app.inject({ method: 'POST', url: config.SYNC_PATH, payload: body as object });
    return { statusCode: res.statusCode, body: res.json() };
  };
  return { app, config, workers, sync, close };
}
