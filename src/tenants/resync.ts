import { sql } from 'drizzle-orm';
import type { Db, Executor } from '../db/client.js';
import { writeContacts } from '../mirror/writer.js';

/**
 * A resync is a fresh backfill of a tenant that already has a mirror: Talkdesk keeps being
 * served (with checkpoints) while it runs, since nothing is removed until it completes; then
 * the live contacts it did not see, the ones the CRM no longer has, are tombstoned. Requesting
 * and finishing one drop a deletion sweep's state (tenants/deletion-sweep.ts), which shares resync_seen.
 */
export async function requestResync(db: Executor, tenantId: string): Promise<void> {
  // One transaction, the ingest state's row first: a deletion sweep under way checks that row
  // (locked) before it commits a page or a tombstone, so it never acts on seen ids emptied here.
  await db.transaction(async (tx) => {
    await tx.execute(sql`
      UPDATE ingest_state
      SET source_cursor = (source_cursor - 'backfill' - 'sweep') || jsonb_build_object('resync', jsonb_build_object('requestedAt', now())),
          backfill_pages = 0, backfill_contacts = 0, backfill_total = NULL
      WHERE tenant_id = ${tenantId}`);
    await tx.execute(sql`DELETE FROM resync_seen WHERE tenant_id = ${tenantId}`);
  });
}

/** Records ids a resync page (or a deletion sweep's listing) brought; call inside the page's transaction. */
export async function rememberSeen(tx: Executor, tenantId: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.execute(sql`
    INSERT INTO resync_seen (tenant_id, id)
    SELECT ${tenantId}, x FROM json_array_elements_text(${JSON.stringify(ids)}::json) AS x
    ON CONFLICT DO NOTHING`);
}

/** Tombstones what the resync did not see (through the mirror writer, in batches), then clears its state. */
export async function finishResync(db: Db, tenantId: string): Promise<number> {
  let deleted = 0;
  for (;;) {
    const { rows } = await db.execute<{ id: string }>(sql`
      SELECT c.id FROM contacts c
      WHERE c.tenant_id = ${tenantId} AND c.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM resync_seen s WHERE s.tenant_id = c.tenant_id AND s.id = c.id)
      LIMIT 5000`);
    if (rows.length === 0) break;
    const counts = await writeContacts(
      db,
      tenantId,
      rows.map((r) => ({ id: r.id, deleted: true as const })),
      'resync',
    );
    deleted += counts.deleted;
  }
  await db.transaction(async (tx) => {
    await tx.execute(sql`DELETE FROM resync_seen WHERE tenant_id = ${tenantId}`);
    await tx.execute(sql`UPDATE ingest_state SET source_cursor = source_cursor - 'resync' - 'backfill' - 'sweep' WHERE tenant_id = ${tenantId}`);
  });
  return deleted;
}
