import { getTenant } from '../src/tenants/repository.js';
import { reconcileDue, resyncRequested } from '../src/tenants/ingest-state.js';
import type { Db } from '../src/db/client.js';
import type { IngestKind } from './queues.js';
import type { IngestScheduler } from './scheduler.js';

export interface TickDeps {
  db: Db;
  scheduler: IngestScheduler;
  reconcileEverySeconds: number;
}

/**
 * The scheduler's light job: decide what the tenant needs and add it, deduplicated by tenant,
 * so a slow pass is never joined by a second one. Backfill first; then a deletion scan when one
 * is due; otherwise an incremental pass.
 */
export async function processTick(tenantId: string, deps: TickDeps): Promise<{ requested?: IngestKind; skipped?: string }> {
  const tenant = await getTenant(deps.db, tenantId);
  if (!tenant || (tenant.status !== 'active' && tenant.status !== 'backfilling')) {
    await deps.scheduler.deactivate(tenantId);
    return { skipped: tenant ? tenant.status : 'tenant deleted' };
  }
  let kind: IngestKind = 'incremental';
  if (tenant.backfillCompletedAt === null || (await resyncRequested(deps.db, tenantId))) {
    kind = 'backfill';
  } else if (await reconcileDue(deps.db, tenantId, deps.reconcileEverySeconds)) {
    kind = 'reconcile';
  }
  await deps.scheduler.requestIngest(tenantId, kind);
  return { requested: kind };
}
