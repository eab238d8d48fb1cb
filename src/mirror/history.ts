import { Type, type Static } from '@sinclair/typebox';
import { sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../db/client.js';

/** Where a version of a contact came from: every write through the mirror writer names one. */
export const WriteSourceSchema = Type.Union(
  [
    Type.Literal('backfill', { description: "the first full read of the CRM account" }),
    Type.Literal('poll', { description: 'an incremental pass over what the CRM changed' }),
    Type.Literal('webhook', { description: 'a record the CRM announced, read again' }),
    Type.Literal('admin_push', { description: 'PUT or DELETE through the admin API' }),
    Type.Literal('resync', { description: "an operator's resync: a fresh full read, then what it did not see tombstoned" }),
    Type.Literal('sweep', { description: 'a scan of what the CRM reports deleted' }),
    Type.Literal('merge', { description: 'a contact merged into another in the CRM' }),
  ],
  { description: 'where the version came from' },
);
export type WriteSource = Static<typeof WriteSourceSchema>;

/**
 * The Talkdesk fields whose change a history row records, one bit each in this order. Only
 * append: the bits of rows already written keep their meaning.
 */
export const HISTORY_FIELDS = ['name', 'company', 'title', 'emails', 'phones', 'photo_url', 'address', 'websites', 'twitter', 'url'] as const;
export type HistoryField = (typeof HISTORY_FIELDS)[number];

export const fieldNames = (mask: number): HistoryField[] => HISTORY_FIELDS.filter((_, bit) => (mask & (1 << bit)) !== 0);

/** At most this many versions of one contact are kept (the writer drops older ones as it adds). */
export const VERSIONS_KEPT = 20;

/**
 * The bits of the fields that differ between the stored version `old` (its columns, `old.live`
 * true when it is a live contact) and the new one `new`. A tombstoned or absent old version has
 * no fields, so every field the new version has changed.
 */
export function changedFieldsMask(oldAlias: string, newAlias: string): SQL {
  const o = sql.raw(oldAlias);
  const n = sql.raw(newAlias);
  // Parenthesized: PostgreSQL gives << and | the same precedence, left to right.
  const bit = (i: number, cond: SQL) => sql`((${cond})::int << ${sql.raw(String(i))})`;
  const compared = HISTORY_FIELDS.map((f, i) => bit(i, sql`${o}.${sql.raw(f)} IS DISTINCT FROM ${n}.${sql.raw(f)}`));
  const present = HISTORY_FIELDS.map((f, i) => bit(i, sql`${n}.${sql.raw(f)} IS NOT NULL`));
  return sql`CASE WHEN ${o}.live THEN ${sql.join(compared, sql` | `)} ELSE ${sql.join(present, sql` | `)} END`;
}

/**
 * Drops all but the newest VERSIONS_KEPT - 1 stored versions of the contacts `ids` names (a
 * subquery of contact ids), leaving room for the version being written in the same statement,
 * which the DELETE cannot see. The rows to drop are found by one index probe per contact and
 * deleted by their ctid: joined to contact_history instead, the planner (which cannot tell how
 * few ids come) hashed the tenant's whole history. The writer calls it only for contacts past
 * VERSIONS_KEPT versions (contacts.versions): for every updated contact it cost a third of a
 * changed batch. EXPLAIN ANALYZE for one contact with 21 versions:
 *   Delete on contact_history -> Tid Scan on contact_history (TID Cond: (ctid = ANY ($2)))
 *     InitPlan: Nested Loop -> CTE Scan on up (Filter: versions > 20)
 *                           -> Limit -> Sort -> Bitmap Heap Scan on contact_history (rows=20)
 *                                            -> Bitmap Index Scan on contact_history_contact
 */
export function pruneVersions(tenantId: string, ids: SQL): SQL {
  return sql`
    DELETE FROM contact_history WHERE ctid = ANY(ARRAY(
      SELECT old.ctid FROM (${ids}) x(id)
      CROSS JOIN LATERAL (
        SELECT ctid FROM contact_history
        WHERE tenant_id = (SELECT ${tenantId}::uuid) AND contact_id = x.id
        ORDER BY at DESC OFFSET ${sql.raw(String(VERSIONS_KEPT - 1))}
      ) old))`;
}

export interface HistoryEntry {
  /** The version's key time, ISO 8601 with microseconds. */
  at: string;
  source: WriteSource;
  fields: HistoryField[];
  deleted: boolean;
}

/**
 * A contact's history, newest first: at most 20 rows, found by contact_history_contact and sorted.
 * The time's text form has a name of its own, so the sort is on the timestamp itself.
 */
export async function readHistory(db: Executor, tenantId: string, contactId: string): Promise<HistoryEntry[]> {
  const { rows } = await db.execute<{ at_iso: string; source: WriteSource; fields: number; deleted: boolean }>(sql`
    SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at_iso, source, fields, deleted
    FROM contact_history
    WHERE tenant_id = ${tenantId} AND contact_id = ${contactId}
    ORDER BY at DESC`);
  return rows.map((r) => ({ at: r.at_iso, source: r.source, fields: fieldNames(r.fields), deleted: r.deleted }));
}

/** Removes a contact's history: an erase leaves no trace of what it was. */
export function eraseHistory(tenantId: string, ids: SQL): SQL {
  return sql`DELETE FROM contact_history WHERE tenant_id = (SELECT ${tenantId}::uuid) AND contact_id = ANY(${ids})`;
}

/**
 * Deletes history rows older than `days`, a bounded batch per statement so that a large backlog
 * never holds one long transaction. Returns how many went. Rows are written in time order, so
 * the BRIN index on `at` finds the old ones: with nothing to prune (400k rows) it is
 *   Bitmap Heap Scan on contact_history (Heap Blocks: lossy=66) -> Bitmap Index Scan on contact_history_at
 * in 1 ms.
 */
export async function pruneOldHistory(db: Executor, days: number, batch = 10_000): Promise<number> {
  let pruned = 0;
  for (;;) {
    const { rowCount } = await db.execute(sql`
      DELETE FROM contact_history WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM contact_history WHERE at < now() - make_interval(days => ${days}) LIMIT ${batch}))`);
    pruned += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return pruned;
  }
}
