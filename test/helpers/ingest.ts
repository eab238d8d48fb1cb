import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import type { Test } from 'tap';
import { buildHubSpotSim, type HubSpotSimOptions } from '../../harness/hubspot-sim/server.js';
import type { SimControl } from '../../harness/hubspot-sim/control.js';
import { createConnector } from '../../src/crm/create-connector.js';
import { deriveKeys } from '../../src/tenants/keys.js';
import type { Metrics } from '../../src/metrics/registry.js';
import { startWorkers, type RunningWorkers } from '../../workers/index.js';
import type { Queue } from 'bullmq';
import { connectApiQueue } from '../../workers/api-queue.js';
import { ingestQueue, redisConnection, type IngestJob, type IngestResult } from '../../workers/queues.js';
import { IngestScheduler } from '../../workers/scheduler.js';
import { buildTestApp, type TestApp } from './app.js';
import { testRedisUrl } from './services.js';

export interface Sim {
  url: string;
  control: SimControl;
}

/** The HubSpot simulator on an ephemeral loopback port, closed in teardown. */
export async function startSim(t: Test, options: HubSpotSimOptions = {}): Promise<Sim> {
  const sim = await buildHubSpotSim(options);
  await sim.app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => sim.app.close());
  const address = sim.app.server.address();
  if (!address || typeof address === 'string') throw new Error('sim has no port');
  return { url: `http://127.0.0.1:${address.port}`, control: sim.control };
}

export interface IngestStack extends TestApp {
  /** The in-process workers (absent when the test runs its own worker processes). */
  workers: RunningWorkers | undefined;
  env: Record<string, string>;
  /** Starts another worker set on the same queue (a second process, as far as BullMQ can tell). */
  startMoreWorkers(): Promise<RunningWorkers>;
  /** The ingest queue on a connection of the test's own, straight to Redis (never through REDIS_URL's proxy). */
  directQueue: Queue<IngestJob, IngestResult>;
}

export interface IngestStackOptions {
  workers?: boolean;
  metrics?: Metrics;
  /**
   * Give the app its queue as src/server.ts does (connectApiQueue on REDIS_URL, failing fast),
   * instead of one on the test's own connection; for tests that take Redis away from the app.
   */
  serverQueue?: boolean;
  /** /readyz checks Redis too, as in a process that runs the workers (ROLE=all). */
  checkRedis?: boolean;
}

/**
 * The app with its HubSpot connector and queues, and the workers, on a fresh database and a
 * queue prefix of its own (obliterated in teardown), pointed at the simulator.
 */
export async function buildIngestStack(
  t: Test,
  sim: Sim,
  env: Record<string, string> = {},
  { workers: withWorkers = true, metrics, serverQueue = false, checkRedis }: IngestStackOptions = {},
): Promise<IngestStack> {
  const redisUrl = await testRedisUrl();
  const fullEnv = {
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: `cbtest${randomBytes(4).toString('hex')}`,
    HUBSPOT_BASE_URL: sim.url,
    SYNC_INTERVAL_SECONDS: '1',
    HUBSPOT_SEARCH_OVERLAP_SECONDS: '0',
    DELETION_RESYNC_SECONDS: '0',
    ...env,
  };
  let deps!: { config: import('../../src/config.js').Config; database: import('./database.js').TestDatabase };
  const producer = redisConnection(redisUrl, 'worker');
  let directQueue!: Queue<IngestJob, IngestResult>;
  const h = await buildTestApp(t, fullEnv, async (config, database) => {
    deps = { config, database };
    const queue = ingestQueue(producer, config.QUEUE_PREFIX);
    directQueue = queue;
    t.teardown(async () => {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      producer.disconnect();
    });
    if (serverQueue) {
      const api = connectApiQueue(config.REDIS_URL, config.QUEUE_PREFIX, config.SYNC_INTERVAL_SECONDS * 1000);
      t.teardown(() => api.close());
      return { connector: createConnector(config, { onResponse: metrics?.countCrmResponse }), ingest: api.ingest, queue: api.queue, metrics, checkRedis };
    }
    return {
      connector: createConnector(config, { onResponse: metrics?.countCrmResponse }),
      ingest: new IngestScheduler(queue, config.SYNC_INTERVAL_SECONDS * 1000),
      queue,
      metrics,
      checkRedis,
    };
  });
  const start = async () => {
    const workers = await startWorkers({
      config: deps.config,
      db: deps.database.db,
      pool: deps.database.pool,
      keys: deriveKeys(deps.config.BRIDGE_SECRET, deps.config.BRIDGE_SECRET_PREVIOUS),
      connector: createConnector(deps.config, { onResponse: metrics?.countCrmResponse }),
      log: pino({ level: 'silent' }),
      metrics,
      reconcileSchedulesMs: 1_000,
    });
    // Runs before the database teardown registered earlier (tap tears down in reverse order).
    t.teardown(() => workers.close());
    return workers;
  };
  return { ...h, workers: withWorkers ? await start() : undefined, env: fullEnv, startMoreWorkers: start, directQueue };
}

/** Polls until `check` returns true (bounded): ingest is asynchronous by nature. */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await sleep(200);
  }
}
