import type { Queue } from 'bullmq';
import type { Db } from '../db/client.js';
import { tenantsToIngest } from '../tenants/lifecycle.js';
import type { IngestJob, IngestKind, IngestResult } from './queue.js';

/** The key of a tenant's job scheduler. */
export const schedulerId = (tenantId: string) => `tick:${tenantId}`;
/** One ingest job per tenant at a time, whatever its kind: BullMQ ignores adds while one exists. */
export const dedupId = (tenantId: string) => `ingest:${tenantId}`;

/**
 * Per tenant, one BullMQ job scheduler fires a light "tick" every interval; the tick adds the
 * real job, deduplicated by tenant. BullMQ's schedulers can start a run while the previous one
 * is still going; the tick and deduplication (plus an advisory lock in the job) stop overlap.
 */
export class IngestScheduler {
  constructor(
    private readonly queue: Queue<IngestJob, IngestResult>,
    private readonly intervalMs: number,
  ) {}

  /** Schedules the tenant and asks for a pass now (a backfill when it has none). */
  async activate(tenantId: string): Promise<void> {
    await this.queue.upsertJobScheduler(
      schedulerId(tenantId),
      { every: this.intervalMs },
      { name: 'tick', data: { kind: 'tick', tenantId }, opts: { removeOnComplete: true, removeOnFail: 100 } },
    );
    // One immediate tick per tenant at a time: a flood of activations (validations, rotations)
    // is one tick, not a queue of them.
    await this.queue.add('tick', { kind: 'tick', tenantId }, { removeOnComplete: true, removeOnFail: 100, deduplication: { id: `tick-now:${tenantId}` } });
  }

  async deactivate(tenantId: string): Promise<void> {
    await this.queue.removeJobScheduler(schedulerId(tenantId));
  }

  async requestIngest(tenantId: string, kind: IngestKind): Promise<void> {
    await this.queue.add(kind, { kind, tenantId }, { deduplication: { id: dedupId(tenantId) } });
  }

  /**
   * Makes the schedulers match the database: every tenant that is ingesting (lifecycle.ts) has
   * one, no other tenant does. Run at worker start and periodically, so a tenant onboarded while
   * Redis was down, or a Redis that lost its data, heals by itself.
   */
  async reconcile(db: Db): Promise<{ scheduled: number; removed: number }> {
    const wanted = new Set(await tenantsToIngest(db));
    const existing = new Set<string>();
    for (let start = 0; ; start += 500) {
      const page = await this.queue.getJobSchedulers(start, start + 499, true);
      for (const s of page) if (s.key.startsWith(schedulerId(''))) existing.add(s.key.slice(schedulerId('').length));
      if (page.length < 500) break;
    }
    let scheduled = 0;
    let removed = 0;
    for (const id of wanted) {
      if (!existing.has(id)) {
        await this.activate(id);
        scheduled++;
      }
    }
    for (const id of existing) {
      if (!wanted.has(id)) {
        await this.deactivate(id);
        removed++;
      }
    }
    return { scheduled, removed };
  }
}
