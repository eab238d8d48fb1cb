import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import type { Queue } from 'bullmq';
import { buildHubSpotSim, type HubSpotSimOptions } from '../../harness/hubspot-sim/server.js';
import type { SimControl } from '../../harness/hubspot-sim/control.js';
import type { Runtime, RuntimeOverrides } from '../../src/runtime.js';
import type { RunningWorkers } from '../../workers/index.js';
import { ingestQueue, redisConnection, type IngestJob, type IngestResult } from '../../src/ingest/queue.js';
import { buildTestApp, buildTestRuntime, type TestApp } from './app.js';
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
  /** The environment this process was configured from (another process of the same deployment starts with it). */
  env: Record<string, string>;
  /** Starts another worker set on the same queue (a second process, as far as BullMQ can tell). */
  startMoreWorkers(): Promise<RunningWorkers>;
  /** The ingest queue on a connection of the test's own, straight to Redis (never through REDIS_URL's proxy). */
  directQueue: Queue<IngestJob, IngestResult>;
}

export interface IngestStackOptions {
  /** Run the workers in this process (ROLE=all, the default) or not (ROLE=api). */
  workers?: boolean;
  overrides?: RuntimeOverrides;
}

/**
 * A bridge process with the HubSpot connector and the queues, and (ROLE=all) the workers, built
 * by the composition root on a fresh database and a queue prefix of its own (obliterated in
 * teardown), pointed at the simulator.
 */
export async function buildIngestStack(
  t: Test,
  sim: Sim,
  env: Record<string, string> = {},
  { workers: withWorkers = true, overrides }: IngestStackOptions = {},
): Promise<IngestStack> {
  const fullEnv = {
    ROLE: withWorkers ? 'all' : 'api',
    CRM: 'all',
    HUBSPOT_BASE_URL: sim.url,
    SYNC_INTERVAL_SECONDS: '1',
    HUBSPOT_SEARCH_OVERLAP_SECONDS: '0',
    DELETION_RESYNC_SECONDS: '0',
    ...env,
  };
  const h = await buildTestApp(t, fullEnv, { reconcileSchedulesMs: 1_000, ...overrides });
  const { config } = h;
  // The test's own view of the queue, on a direct connection (REDIS_URL may go through a proxy).
  const redisUrl = await testRedisUrl();
  const connection = redisConnection(redisUrl, 'worker');
  const directQueue = ingestQueue(connection, config.QUEUE_PREFIX);
  t.teardown(async () => {
    await directQueue.close();
    connection.disconnect();
  });
  const startMoreWorkers = async () => {
    const more: Runtime = await buildTestRuntime(t, h.database, { ...fullEnv, QUEUE_PREFIX: config.QUEUE_PREFIX, REDIS_URL: config.REDIS_URL, ROLE: 'worker' }, { reconcileSchedulesMs: 1_000, ...overrides });
    return more.workers!;
  };
  // The whole environment this process was configured from, for another process of the same deployment.
  const processEnv = {
    ...fullEnv,
    DATABASE_URL: config.DATABASE_URL,
    REDIS_URL: config.REDIS_URL,
    QUEUE_PREFIX: config.QUEUE_PREFIX,
    BRIDGE_SECRET: config.BRIDGE_SECRET,
  };
  return { ...h, workers: h.runtime.workers, env: processEnv, startMoreWorkers, directQueue };
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
