import { getTenant } from '../src/tenants/repository.js';
import { pollCoveredByWebhooks, reconcileDue, resyncRequested } from '../src/tenants/ingest-state.js';
import { isIngesting, whyNotIngesting } from '../src/tenants/lifecycle.js';
import type { Db } from '../src/db/client.js';
import type { IngestKind } from '../src/ingest/queue.js';
import type { IngestScheduler } from '../src/ingest/scheduler.js';

export interface TickDeps {
  db: Db;
  scheduler: IngestScheduler;
  reconcileEverySeconds: number;
  /** WEBHOOK_POLL_INTERVAL_SECONDS: the incremental interval of a tenant whose webhooks arrive. */
  webhookPollEverySeconds?: number;
}

/**
 * The scheduler's light job: decide what the tenant needs and add it, deduplicated by tenant,
 * so a slow pass is never joined by a second one. Backfill first; then a deletion scan when one
 * is due (the CRM's list of deleted records, then the sweep of live ids: a reconcile); otherwise
 * an incremental pass, unless the tenant's webhooks arrive and it was polled within
 * WEBHOOK_POLL_INTERVAL_SECONDS.
 */
export async function processTick(tenantId: string, deps: TickDeps): Promise<{ requested?: IngestKind; skipped?: string }> {
  const tenant = await getTenant(deps.db, tenantId);
  if (!isIngesting(tenant)) {
    await deps.scheduler.deactivate(tenantId);
    return { skipped: whyNotIngesting(tenant) };
  }
  let kind: IngestKind = 'incremental';
  if (tenant.backfillCompletedAt === null || (await resyncRequested(deps.db, tenantId))) {
    kind = 'backfill';
  } else if (await reconcileDue(deps.db, tenantId, deps.reconcileEverySeconds)) {
    kind = 'reconcile';
  } else if (deps.webhookPollEverySeconds !== undefined && (await pollCoveredByWebhooks(deps.db, tenantId, deps.webhookPollEverySeconds))) {
    // Webhooks bring its changes within seconds: a poll, the net for the events they lose, can wait.
    return { skipped: `webhooks arrive; polled every ${deps.webhookPollEverySeconds} s` };
  }
  await deps.scheduler.requestIngest(tenantId, kind);
  return { requested: kind };
}
