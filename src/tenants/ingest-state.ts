import { eq, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { ingestState } from '../db/schema.js';

export type CursorName = 'backfill' | 'changes' | 'deletions' | 'resync' | 'sweep';

/** The tenant's ingest state, created (empty) if it has none yet. */
export async function ensureIngestState(db: Executor, tenantId: string) {
  await db.insert(ingestState).values({ tenantId }).onConflictDoNothing();
  const [state] = await db.select().from(ingestState).where(eq(ingestState.tenantId, tenantId));
  return state!;
}

/** Stores one durable cursor (undefined removes it), with the page's counts. Call inside the page's transaction. */
export async function saveCursor(
  db: Executor,
  tenantId: string,
  name: CursorName,
  cursor: unknown,
  backfill?: { contacts: number; total?: number },
): Promise<void> {
  const value = cursor === undefined ? sql`source_cursor - ${name}::text` : sql`source_cursor || jsonb_build_object(${name}::text, ${JSON.stringify(cursor)}::jsonb)`;
  await db.execute(sql`
    UPDATE ingest_state SET source_cursor = ${value}
      ${backfill ? sql`, backfill_pages = backfill_pages + 1, backfill_contacts = backfill_contacts + ${backfill.contacts}, backfill_total = coalesce(${backfill.total ?? null}::int, backfill_total)` : sql``}
    WHERE tenant_id = ${tenantId}`);
}

export async function recordRun(db: Executor, tenantId: string, outcome: { error?: string; success?: boolean; reconciled?: boolean }) {
  await db.execute(sql`
    UPDATE ingest_state SET
      last_run_at = now(),
      last_success_at = CASE WHEN ${outcome.success ?? false} THEN now() ELSE last_success_at END,
      last_error = CASE WHEN ${outcome.error ?? null}::text IS NOT NULL THEN ${outcome.error ?? null}::text ELSE last_error END,
      last_error_at = CASE WHEN ${outcome.error ?? null}::text IS NOT NULL THEN now() ELSE last_error_at END,
      last_reconcile_at = CASE WHEN ${outcome.reconciled ?? false} THEN now() ELSE last_reconcile_at END
    WHERE tenant_id = ${tenantId}`);
}

/** The CRM's daily budget as it last stated it; `low_since` is kept while it stays low. */
export async function recordBudget(db: Executor, tenantId: string, budget: { left: number; low: boolean }): Promise<void> {
  await db.execute(sql`
    UPDATE ingest_state SET
      crm_budget_left = ${budget.left},
      crm_budget_low_since = CASE WHEN ${budget.low} THEN coalesce(crm_budget_low_since, now()) END
    WHERE tenant_id = ${tenantId}`);
}

/** Whether the tenant's last scan of deleted CRM records is older than `everySeconds` (or never ran). */
export async function reconcileDue(db: Executor, tenantId: string, everySeconds: number): Promise<boolean> {
  const res = await db.execute<{ due: boolean }>(sql`
    SELECT coalesce(max(last_reconcile_at) <= now() - make_interval(secs => ${everySeconds}), true) AS due
    FROM ingest_state WHERE tenant_id = ${tenantId}`);
  return res.rows[0]?.due ?? true;
}

export async function resyncRequested(db: Executor, tenantId: string): Promise<boolean> {
  const res = await db.execute<{ yes: boolean }>(sql`
    SELECT coalesce(bool_or(source_cursor ? 'resync'), false) AS yes FROM ingest_state WHERE tenant_id = ${tenantId}`);
  return res.rows[0]?.yes ?? false;
}

/** Notes that the CRM delivered webhook events for these tenants just now (a tenant without ingest state gets one). */
export async function recordWebhooksReceived(db: Executor, tenantIds: readonly string[]): Promise<void> {
  if (tenantIds.length === 0) return;
  await db.execute(sql`
    INSERT INTO ingest_state (tenant_id, webhooks_received_at)
    SELECT id, now() FROM unnest(${sql.param([...tenantIds])}::uuid[]) AS t(id)
    ON CONFLICT (tenant_id) DO UPDATE SET webhooks_received_at = excluded.webhooks_received_at`);
}

/**
 * Whether the tenant's webhooks arrived within the last `withinSeconds` and an incremental pass
 * succeeded within that time too: its polling may then wait (WEBHOOK_POLL_INTERVAL_SECONDS).
 */
export async function pollCoveredByWebhooks(db: Executor, tenantId: string, withinSeconds: number): Promise<boolean> {
  const res = await db.execute<{ covered: boolean }>(sql`
    SELECT coalesce(bool_or(webhooks_received_at > now() - make_interval(secs => ${withinSeconds})
                            AND last_success_at > now() - make_interval(secs => ${withinSeconds})), false) AS covered
    FROM ingest_state WHERE tenant_id = ${tenantId}`);
  return res.rows[0]?.covered ?? false;
}
