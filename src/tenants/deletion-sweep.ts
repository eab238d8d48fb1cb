import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Db, Executor } from '../db/client.js';
import { writeContacts } from '../mirror/writer.js';
import { saveCursor } from './ingest-state.js';
import { rememberSeen } from './resync.js';

/**
 * The deletion sweep: a listing of every live id in the CRM, recorded page by page (in
 * resync_seen, with the listing's cursor, in one transaction), and, only once the listing has
 * reached its end, the tombstoning of the mirrored ids it did not see. It catches what no list of
 * the CRM reports: HubSpot's privacy (GDPR) deletions, Pipedrive's deleted and merged-away persons.
 *
 * A sweep cut short (an error, a 429 storm, a killed process) has tombstoned nothing; the next
 * reconcile resumes it from its stored cursor. Only rows last written at or before the sweep's
 * start can be tombstoned by it: a contact written since (created, restored, revived mid-sweep,
 * perhaps behind the listing's cursor) is not the listing's to judge.
 *
 * A sweep and a resync share resync_seen but never run at once: a requested resync runs first
 * (workers/ingest.ts), and requesting or finishing one drops a sweep's state.
 */
export interface SweepCursor {
  /** Which sweep this is: one whose state was dropped (a resync requested meanwhile) must not go on. */
  id: string;
  /** The tenant's last_change_at when the sweep began, as text at full precision: rows at or before it are judged. */
  startedAt: string;
  /** The connector's listing cursor (undefined: from the first page). */
  listing?: unknown;
  /** The listing reached its end: what is left is tombstoning. */
  listed?: boolean;
}

/**
 * Begins a sweep: empties the seen ids and records its start, under the tenant's row lock, so
 * that every write committed before it has updated_at at or below `startedAt` and every later
 * one above it (the writer's invariant).
 */
export async function startSweep(db: Db, tenantId: string): Promise<SweepCursor> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.execute<{ at: string }>(sql`SELECT last_change_at::text AS at FROM tenants WHERE id = ${tenantId} FOR UPDATE`);
    const cursor: SweepCursor = { id: randomUUID(), startedAt: rows[0]?.at ?? '-infinity' };
    await tx.execute(sql`DELETE FROM resync_seen WHERE tenant_id = ${tenantId}`);
    await saveCursor(tx, tenantId, 'sweep', cursor);
    return cursor;
  });
}

/** Stores a listed page: its ids as seen and where the listing resumes. Call inside one transaction. */
export async function recordSweepPage(tx: Executor, tenantId: string, ids: readonly string[], cursor: SweepCursor): Promise<void> {
  await assertCurrentSweep(tx, tenantId, cursor.id);
  await rememberSeen(tx, tenantId, ids);
  await saveCursor(tx, tenantId, 'sweep', cursor);
}

const TOMBSTONES_PER_WRITE = 5_000;

/**
 * After a complete listing: tombstones, through the mirror writer, every live row not seen and
 * last written at or before the sweep's start (the writer checks the time again in its
 * tombstoning statement, under the tenant lock); the last write also clears the sweep's state.
 * A crash in between leaves the state `listed`, and the next reconcile finishes the tombstoning.
 */
export async function finishSweep(db: Db, tenantId: string, sweep: Pick<SweepCursor, 'id' | 'startedAt'>): Promise<number> {
  const { startedAt } = sweep;
  let deleted = 0;
  for (;;) {
    const { rows } = await db.execute<{ id: string }>(sql`
      SELECT c.id FROM contacts c
      WHERE c.tenant_id = ${tenantId} AND c.deleted_at IS NULL AND c.updated_at <= ${startedAt}::timestamptz
        AND NOT EXISTS (SELECT 1 FROM resync_seen s WHERE s.tenant_id = c.tenant_id AND s.id = c.id)
      LIMIT ${TOMBSTONES_PER_WRITE}`);
    const last = rows.length < TOMBSTONES_PER_WRITE;
    const counts = await writeContacts(
      db,
      tenantId,
      rows.map((r) => ({ id: r.id, deleted: true as const })),
      'sweep',
      async (tx) => {
        // After the tombstones, before the commit: a sweep whose state was dropped meanwhile rolls them back.
        await assertCurrentSweep(tx, tenantId, sweep.id);
        if (last) await clearSweep(tx, tenantId);
      },
      { tombstonesUnchangedSince: startedAt },
    );
    deleted += counts.deleted;
    if (last) return deleted;
  }
}

/** Drops a sweep's state (its seen ids and cursor). */
export async function clearSweep(tx: Executor, tenantId: string): Promise<void> {
  await tx.execute(sql`DELETE FROM resync_seen WHERE tenant_id = ${tenantId}`);
  await saveCursor(tx, tenantId, 'sweep', undefined);
}

/** The sweep's state was dropped while it ran (a resync was requested): it stops, having done nothing more. */
export class SweepAbandonedError extends Error {
  override name = 'SweepAbandonedError';
}

/** Locks the ingest state's row and checks the stored sweep is still `id`; otherwise SweepAbandonedError. */
async function assertCurrentSweep(tx: Executor, tenantId: string, id: string): Promise<void> {
  const { rows } = await tx.execute<{ id: string | null }>(
    sql`SELECT source_cursor -> 'sweep' ->> 'id' AS id FROM ingest_state WHERE tenant_id = ${tenantId} FOR UPDATE`,
  );
  if (rows[0]?.id !== id) throw new SweepAbandonedError(`the deletion sweep ${id} was dropped while it ran`);
}
