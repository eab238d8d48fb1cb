import { sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import type { Contact } from '../mirror/contact.js';
import { microsToTimestamp, type Key } from './cursor.js';

/** A contact as the page query returns it: Talkdesk's fields plus its key (dropped by the response schema). */
export type PageContact = Contact & { _us: string };

export interface PageResult {
  contacts: PageContact[];
  /** The tenant's newest key, live or tombstone, in the same snapshot as the page. */
  newest: Key | undefined;
}

/**
 * One page of live contacts after `after`, in key order, plus the tenant's newest key, in one
 * statement (one snapshot, one round trip). PostgreSQL builds the JSON: node-postgres then
 * parses one string natively instead of decoding `text[]` columns row by row, which is where a
 * naive sync spends its time (shared/DESIGN.md, performance notes).
 *
 * The key's text form is named `_us`, not `updated_at`: ORDER BY updated_at would otherwise
 * sort by the output column and lose the index. Plan (EXPLAIN ANALYZE, 1M-row tenant):
 *   Limit -> Index Scan using contacts_sync_key on contacts
 *            Index Cond: ((tenant_id = $1) AND (ROW(updated_at, id) > ROW($2, $3)))
 *            Filter: (deleted_at IS NULL)
 * and for the newest key: Limit -> Index Only Scan Backward using contacts_sync_key.
 */
export async function readPage(db: Executor, tenantId: string, after: Key, limit: number): Promise<PageResult> {
  const result = await db.execute<{ page: { contacts: PageContact[]; newest: { us: string; id: string } | null } }>(
    pageStatement(tenantId, after, limit),
  );
  const { contacts, newest } = result.rows[0]!.page;
  return { contacts, newest: newest ? { us: BigInt(newest.us), id: newest.id } : undefined };
}

/** The statement itself, exported so its plan can be checked (test/page-plan.test.ts). */
export function pageStatement(tenantId: string, after: Key, limit: number): SQL {
  return sql`
    SELECT json_build_object(
      'contacts', (
        SELECT coalesce(json_agg(json_strip_nulls(row_to_json(p)) ORDER BY p._ts, p.id), '[]'::json)
        FROM (
          SELECT id, name, company, title, emails, phones, photo_url, address, websites, twitter, url,
                 updated_at AS _ts, (extract(epoch FROM updated_at) * 1000000)::bigint::text AS _us
          FROM contacts
          WHERE tenant_id = ${tenantId} AND deleted_at IS NULL
            AND (updated_at, id) > (${microsToTimestamp(after.us)}::timestamptz, ${after.id})
          ORDER BY updated_at, id
          LIMIT ${limit}
        ) p
      ),
      'newest', (
        SELECT json_build_object('us', (extract(epoch FROM updated_at) * 1000000)::bigint::text, 'id', id)
        FROM contacts
        WHERE tenant_id = ${tenantId}
        ORDER BY updated_at DESC, id DESC
        LIMIT 1
      )
    ) AS page
  `;
}

/** Whether a tombstone newer than `since` exists (no `since`: any tombstone). Uses contacts_tombstones. */
export async function hasTombstonesAfter(db: Executor, tenantId: string, since: string | null): Promise<boolean> {
  const result = await db.execute<{ pending: boolean }>(sql`
    SELECT EXISTS (
      SELECT 1 FROM contacts
      WHERE tenant_id = ${tenantId} AND deleted_at IS NOT NULL
        AND updated_at > coalesce(${since}::timestamptz, '-infinity')
    ) AS pending
  `);
  return result.rows[0]!.pending;
}
