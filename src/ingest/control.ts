import type { Queue } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { countJobs, ingestQueue, redisConnection, type IngestJob, type IngestResult } from './queue.js';
import { dedupId, IngestScheduler, schedulerId } from './scheduler.js';

const Timestamp = Type.Union([Type.String({ description: 'ISO 8601' }), Type.Null()]);

/** A tenant's ingest job as an operator sees it. */
export const IngestJobViewSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  state: Type.String({ description: 'waiting, active, delayed, …' }),
  progress: Type.Unknown(),
  next_run_at: Timestamp,
});
export type IngestJobView = Static<typeof IngestJobViewSchema>;

/**
 * What the API (onboarding, the admin routes, the status page, metrics) needs of ingest. The
 * runtime implements it with the BullMQ queue; nothing in src/ but the composition root reaches
 * workers/. Redis is never on a request's critical path: every method answers within the
 * connection's bounds when Redis is away, and the ones that change the schedule log and carry
 * on (the workers reconcile the schedules with PostgreSQL when Redis answers again).
 */
export interface IngestControl {
  /** Schedules the tenant's ingest and asks for a pass now (a backfill when it has none). */
  activate(tenantId: string): Promise<void>;
  /** Stops scheduling the tenant; a running pass stops after its current page. */
  deactivate(tenantId: string): Promise<void>;
  /** Unschedules the tenant and drops its queued job (a deleted tenant). */
  forget(tenantId: string): Promise<void>;
  /** The tenant's job running or queued, else its next scheduled tick; null when none or Redis is away. */
  jobOf(tenantId: string): Promise<IngestJobView | null>;
  /** Jobs by state, for the metrics; undefined when Redis does not answer. */
  jobCounts(states: readonly string[]): Promise<Record<string, number> | undefined>;
  /** The queue itself, for the operators' queue board. */
  readonly queue: Queue<IngestJob, IngestResult>;
}

/** IngestControl on the ingest queue, with the API's "Redis may be down: log and carry on" policy. */
export class QueueIngestControl implements IngestControl {
  private readonly scheduler: IngestScheduler;

  constructor(
    readonly queue: Queue<IngestJob, IngestResult>,
    intervalMs: number,
    private readonly log?: Pick<FastifyBaseLogger, 'warn'>,
  ) {
    this.scheduler = new IngestScheduler(queue, intervalMs);
  }

  async activate(tenantId: string): Promise<void> {
    await this.carryOn(tenantId, 'could not schedule ingest now; the workers will when Redis answers', () => this.scheduler.activate(tenantId));
  }

  async deactivate(tenantId: string): Promise<void> {
    await this.carryOn(tenantId, 'could not unschedule now; the workers will when Redis answers', () => this.scheduler.deactivate(tenantId));
  }

  async forget(tenantId: string): Promise<void> {
    await this.carryOn(tenantId, 'queue cleanup deferred to the schedule reconciliation', async () => {
      await this.scheduler.deactivate(tenantId);
      const jobId = await this.queue.getDeduplicationJobId(dedupId(tenantId));
      if (jobId) await (await this.queue.getJob(jobId))?.remove().catch(() => {});
    });
  }

  async jobOf(tenantId: string): Promise<IngestJobView | null> {
    try {
      const jobId = await this.queue.getDeduplicationJobId(dedupId(tenantId));
      const job = jobId ? await this.queue.getJob(jobId) : undefined;
      if (job) {
        const state = await job.getState();
        const next = state === 'delayed' ? new Date(job.timestamp + (job.delay ?? 0)).toISOString() : null;
        return { id: job.id ?? jobId!, kind: job.data.kind, state, progress: job.progress ?? null, next_run_at: next };
      }
      const scheduler = await this.queue.getJobScheduler(schedulerId(tenantId));
      if (scheduler?.next) {
        return { id: schedulerId(tenantId), kind: 'tick', state: 'scheduled', progress: null, next_run_at: new Date(scheduler.next).toISOString() };
      }
    } catch {
      // The queue is unreachable: what the caller shows from PostgreSQL still stands.
    }
    return null;
  }

  async jobCounts(states: readonly string[]): Promise<Record<string, number> | undefined> {
    return countJobs(this.queue, states);
  }

  private async carryOn(tenantId: string, message: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.log?.warn({ tenant: tenantId, err: (err as Error).message }, message);
    }
  }
}

export interface ApiIngest {
  control: QueueIngestControl;
  close(): Promise<void>;
}

/**
 * The API's side of the ingest queue. The API only adds jobs and reads their state, so every
 * command fails fast instead of waiting for Redis: onboarding a tenant while Redis is down still
 * answers. Workers keep their own connections, which wait for Redis forever.
 */
export function connectApiIngest(redisUrl: string, prefix: string, intervalMs: number, log?: Pick<FastifyBaseLogger, 'warn'>): ApiIngest {
  const connection = redisConnection(redisUrl, 'producer');
  const queue = ingestQueue(connection, prefix, { failFast: true });
  return {
    control: new QueueIngestControl(queue, intervalMs, log),
    async close() {
      await queue.close().catch(() => {});
      connection.disconnect();
    },
  };
}
