import { Queue, type ConnectionOptions, type DefaultJobOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';

/** One queue carries every ingest job; the kind says what the job does. Job data holds ids only, never secrets. */
export const INGEST_QUEUE = 'ingest';

export type IngestKind = 'backfill' | 'incremental' | 'reconcile';
export type IngestJob = { kind: 'tick'; tenantId: string } | { kind: IngestKind; tenantId: string };
export interface IngestResult {
  kind: IngestJob['kind'];
  pages: number;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
  skipped?: string;
}

export const defaultJobOptions: DefaultJobOptions = {
  // 5xx, resets and timeouts: exponential backoff with jitter, bounded; the next tick starts over.
  attempts: 8,
  backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
  removeOnComplete: { age: 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
};

/** How long the API waits for any one Redis command before giving up on it. */
export const PRODUCER_COMMAND_TIMEOUT_MS = 2_000;

/**
 * Connections as BullMQ documents them: a worker's blocking connection must retry forever
 * (maxRetriesPerRequest: null); a producer in the API process fails fast instead, so that a
 * Redis outage never holds up a request: while disconnected a command is refused at once
 * (no offline queue), and on a connection that stopped answering without closing (a dead
 * network path) it gives up after PRODUCER_COMMAND_TIMEOUT_MS.
 */
export function redisConnection(url: string, role: 'worker' | 'producer'): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: false }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000, commandTimeout: PRODUCER_COMMAND_TIMEOUT_MS };
  const redis = new Redis(url, options);
  // ioredis reconnects by itself; an 'error' without a listener would crash the process.
  redis.on('error', () => {});
  return redis;
}

export interface IngestQueueOptions {
  /**
   * For the API's queue: do not wait for Redis before the first command. BullMQ otherwise holds
   * every call until the connection has been ready once, so an API started while Redis was down
   * would hang each request that touches the queue until Redis came back, whatever its
   * connection's timeouts. Skipping the version check goes with it (the check is a command).
   */
  failFast?: boolean;
}

export function ingestQueue(connection: ConnectionOptions, prefix: string, { failFast = false }: IngestQueueOptions = {}): Queue<IngestJob, IngestResult> {
  const queue = new Queue<IngestJob, IngestResult>(INGEST_QUEUE, {
    connection,
    prefix,
    defaultJobOptions,
    ...(failFast ? { skipWaitingForReady: true, skipVersionCheck: true } : {}),
  });
  // Closing a queue whose Redis never answered emits 'error'; unheard, it would be an unhandled
  // rejection during a shutdown in a Redis outage. Redis errors are reported by the callers.
  queue.on('error', () => {});
  return queue;
}

/** Jobs by state; undefined when Redis does not answer (stale counts would mislead more than none). */
export async function countJobs(queue: Queue, states: readonly string[]): Promise<Record<string, number> | undefined> {
  return queue.getJobCounts(...(states as Parameters<Queue['getJobCounts']>)).catch(() => undefined);
}

/** One round trip to the queue's Redis, for readiness probes. */
export async function pingQueue(queue: Queue): Promise<unknown> {
  const client = await queue.client;
  // BullMQ's client interface declares no PING, though ioredis (what the queues connect with) has
  // it; INFO is the declared fallback, heavier but still one round trip.
  const withPing = client as typeof client & { ping?: () => Promise<unknown> };
  return typeof withPing.ping === 'function' ? withPing.ping() : client.info();
}
