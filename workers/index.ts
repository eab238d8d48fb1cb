import { Worker, type Job, type Queue } from 'bullmq';
import type { Logger } from 'pino';
import type pg from 'pg';
import type { Config } from '../src/config.js';
import type { Db } from '../src/db/client.js';
import type { ConnectorRegistry } from '../src/crm/registry.js';
import type { BridgeKeys } from '../src/tenants/keys.js';
import type { Metrics } from '../src/metrics/registry.js';
import { processIngest } from './ingest.js';
import { INGEST_QUEUE, ingestQueue, redisConnection, type IngestJob, type IngestResult } from '../src/ingest/queue.js';
import { IngestScheduler } from '../src/ingest/scheduler.js';
import { processTick } from './tick.js';
import { pruneOldHistory } from '../src/mirror/history.js';
import { WEBHOOK_QUEUE, webhookQueue, type WebhookJob, type WebhookResult } from '../src/webhooks/queue.js';
import { processWebhook } from './webhooks.js';
import { runSubscriptionRound } from './webhook-subscriptions.js';
import type { TokenRefresher } from '../src/tenants/oauth-connections.js';
import { indexContactKeys } from '../src/mirror/key-indexer.js';
import { contactSearchKeys } from '../src/lookup/search-keys.js';
import type { CountryCode } from 'libphonenumber-js/max';

export interface WorkerDeps {
  config: Pick<
    Config,
    | 'REDIS_URL'
    | 'QUEUE_PREFIX'
    | 'WORKER_CONCURRENCY'
    | 'SYNC_INTERVAL_SECONDS'
    | 'DELETE_RECONCILE_SECONDS'
    | 'WEBHOOK_POLL_INTERVAL_SECONDS'
    | 'CONTACT_HISTORY_DAYS'
    | 'DEFAULT_PHONE_REGION'
    | 'INGEST_LOCK_SECONDS'
    | 'MAX_CONTACTS_PER_TENANT'
    | 'MAX_CONCURRENT_BACKFILLS'
    | 'PUBLIC_URL'
  >;
  db: Db;
  pool: pg.Pool;
  keys: BridgeKeys;
  connectors: ConnectorRegistry;
  log: Logger;
  /** How often the schedulers are checked against the database (default 5 minutes). */
  reconcileSchedulesMs?: number;
  /** How often webhook subscriptions are made and removed (default: SYNC_INTERVAL_SECONDS, at most 5 s). */
  webhookSubscriptionsMs?: number;
  /** How often history older than CONTACT_HISTORY_DAYS is deleted (default hourly). */
  pruneHistoryMs?: number;
  /** How often the lookup's key index catches up with the mirror (default 2 s; mirror/key-indexer.ts). */
  indexKeysMs?: number;
  /** Counts ingest results and rate-limit delays (the API's instance, in one process). */
  metrics?: Metrics;
  now?: () => number;
  /** Refreshes tenants' OAuth connections (the HubSpot app, when HUBSPOT_CLIENT_ID is set). */
  connections?: TokenRefresher;
}

export interface RunningWorkers {
  worker: Worker<IngestJob, IngestResult>;
  queue: Queue<IngestJob, IngestResult>;
  scheduler: IngestScheduler;
  /** The worker that turns CRM webhook events into mirror writes, and its queue. */
  webhooks: { worker: Worker<WebhookJob, WebhookResult>; queue: Queue<WebhookJob, WebhookResult> };
  close(): Promise<void>;
}

/**
 * The ingest half: a BullMQ worker on the ingest queue (WORKER_CONCURRENCY tenants at once),
 * plus the loop that keeps one job scheduler per active tenant. Closes gracefully: running
 * jobs stop after their current page and are continued by whichever worker is up next.
 */
export async function startWorkers(deps: WorkerDeps): Promise<RunningWorkers> {
  const { config, log } = deps;
  const producer = redisConnection(config.REDIS_URL, 'worker');
  // BullMQ leaves connections it was given open on close; these two are ours to end.
  const consumer = redisConnection(config.REDIS_URL, 'worker');
  const queue = ingestQueue(producer, config.QUEUE_PREFIX);
  const scheduler = new IngestScheduler(queue, config.SYNC_INTERVAL_SECONDS * 1000);
  let closing = false;

  const worker = new Worker<IngestJob, IngestResult>(
    INGEST_QUEUE,
    async (job: Job<IngestJob, IngestResult>, token?: string) => {
      if (job.data.kind === 'tick') {
        const out = await processTick(job.data.tenantId, {
          db: deps.db,
          scheduler,
          reconcileEverySeconds: config.DELETE_RECONCILE_SECONDS,
          webhookPollEverySeconds: config.WEBHOOK_POLL_INTERVAL_SECONDS,
        });
        return { kind: 'tick', pages: 0, inserted: 0, updated: 0, unchanged: 0, deleted: 0, ...(out.skipped ? { skipped: out.skipped } : {}) };
      }
      return processIngest(job, token, {
        db: deps.db,
        pool: deps.pool,
        keys: deps.keys,
        connectors: deps.connectors,
        control: scheduler,
        log,
        closing: () => closing,
        metrics: deps.metrics,
        now: deps.now,
        maxContacts: config.MAX_CONTACTS_PER_TENANT,
        backfillSlots: config.MAX_CONCURRENT_BACKFILLS,
        connections: deps.connections,
      });
    },
    {
      connection: consumer,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration: config.INGEST_LOCK_SECONDS * 1000,
      stalledInterval: config.INGEST_LOCK_SECONDS * 1000,
      // A job whose worker was killed twice is still resumed rather than failed.
      maxStalledCount: 5,
    },
  );
  // At debug level, every job: what a stalled tenant's investigation starts from.
  worker.on('completed', (job, result) => log.debug({ jobId: job.id, data: job.data, result }, 'ingest job completed'));
  worker.on('failed', (job, err) => log.warn({ jobId: job?.id, data: job?.data, err: err.message }, 'ingest job failed'));
  worker.on('error', (err) => log.error({ err: err.message }, 'ingest worker error'));

  // Webhook work has a worker of its own: events wait for no ingest pass but their tenant's.
  const hooksConsumer = redisConnection(config.REDIS_URL, 'worker');
  const hooksQueue = webhookQueue(producer, config.QUEUE_PREFIX);
  const hooksWorker = new Worker<WebhookJob, WebhookResult>(
    WEBHOOK_QUEUE,
    (job: Job<WebhookJob, WebhookResult>, token?: string) =>
      processWebhook(job, token, { db: deps.db, pool: deps.pool, keys: deps.keys, connectors: deps.connectors, log, metrics: deps.metrics }),
    { connection: hooksConsumer, prefix: config.QUEUE_PREFIX, concurrency: config.WORKER_CONCURRENCY },
  );
  hooksWorker.on('completed', (job, result) => log.debug({ jobId: job.id, tenantId: job.data.tenantId, result }, 'webhook job completed'));
  hooksWorker.on('failed', (job, err) => log.warn({ jobId: job?.id, tenantId: job?.data.tenantId, err: err.message }, 'webhook job failed'));
  hooksWorker.on('error', (err) => log.error({ err: err.message }, 'webhook worker error'));

  let reconciling = false;
  const reconcileSchedules = async () => {
    if (reconciling) return;
    reconciling = true;
    try {
      const out = await scheduler.reconcile(deps.db);
      if (out.scheduled || out.removed) log.info(out, 'ingest schedules reconciled with the database');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not reconcile ingest schedules; will retry');
    } finally {
      reconciling = false;
    }
  };
  // Not awaited: with Redis down it would wait for Redis, and start-up must not.
  void reconcileSchedules();
  const timer = setInterval(reconcileSchedules, deps.reconcileSchedulesMs ?? 300_000);
  timer.unref();
  const pruning = periodically(log, 'contact history prune', () => pruneOldHistory(deps.db, config.CONTACT_HISTORY_DAYS));
  const pruneTimer = setInterval(pruning, deps.pruneHistoryMs ?? 3_600_000);
  pruneTimer.unref();
  const subscribing = periodically(log, 'webhook subscriptions', async () => {
    const out = await runSubscriptionRound({ db: deps.db, pool: deps.pool, keys: deps.keys, connectors: deps.connectors, log, publicUrl: config.PUBLIC_URL });
    return out ? out.subscribed + out.removed : 0;
  });
  void subscribing();
  const subscribeTimer = setInterval(subscribing, deps.webhookSubscriptionsMs ?? Math.min(config.SYNC_INTERVAL_SECONDS, 5) * 1000);
  subscribeTimer.unref();
  const region = config.DEFAULT_PHONE_REGION as CountryCode;
  const indexing = periodically(log, 'contact key index', () => indexContactKeys(deps.db, (c) => contactSearchKeys(c, region)), 'debug');
  const indexTimer = setInterval(indexing, deps.indexKeysMs ?? 2_000);
  indexTimer.unref();

  return {
    worker,
    queue,
    scheduler,
    webhooks: { worker: hooksWorker, queue: hooksQueue },
    async close() {
      closing = true;
      clearInterval(timer);
      clearInterval(pruneTimer);
      clearInterval(subscribeTimer);
      clearInterval(indexTimer);
      await Promise.all([worker.close(), hooksWorker.close()]);
      await Promise.all([queue.close(), hooksQueue.close()]);
      producer.disconnect();
      consumer.disconnect();
      hooksConsumer.disconnect();
    },
  };
}

/**
 * A periodic task that every worker process runs (they may overlap across processes: the task is
 * idempotent); one run at a time within a process, a failure logged and retried next time.
 */
function periodically(log: Logger, name: string, task: () => Promise<number>, level: 'info' | 'debug' = 'info'): () => Promise<void> {
  let running = false;
  return async () => {
    if (running) return;
    running = true;
    try {
      const n = await task();
      if (n > 0) log[level]({ rows: n }, `${name}: done`);
    } catch (err) {
      log.warn({ err: (err as Error).message }, `${name} failed; will retry`);
    } finally {
      running = false;
    }
  };
}
