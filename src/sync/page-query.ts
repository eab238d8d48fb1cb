import { sql, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type pg from 'pg';
import { isDatabaseUnavailable } from '../db/availability.js';
import type { Db } from '../db/client.js';
import { copyRowsBinary } from '../db/copy-binary.js';
import { microsToTimestamp, type Key } from './cursor.js';

export interface PageResult {
  /** The page's contacts as the inside of a JSON array: their stored documents joined by commas, as UTF-8. */
  json: Buffer;
  /** How many contacts the page holds (at most the page size). */
  count: number;
  /** The key of the page's last contact. */
  last: Key | undefined;
  /** Whether live contacts remain after the page. */
  hasMore: boolean;
  /** The tenant's newest key, live or tombstone, in the same snapshot as the page. */
  newest: Key | undefined;
  /** Whether a tombstone newer than `tombstonesAfter` exists (undefined when not asked). */
  tombstonesPending: boolean | undefined;
}

export interface PageOptions {
  /**
   * Also say whether a tombstone newer than this time exists (null: any tombstone), in the same
   * statement and snapshot: the first page of an incremental run needs it.
   */
  tombstonesAfter?: string | null;
}

/**
 * One page of live contacts after `after`, in key order, plus the tenant's newest key, in one
 * statement (one snapshot, one round trip). The page is the contacts' stored documents (written
 * by the mirror writer) joined as they are: no JSON is built or parsed per row, in PostgreSQL or
 * here, which is what a full sync of a large tenant would otherwise spend its time on
 * (docs/benchmarks.md).
 *
 * One row more than the page is read to know whether another page follows. Plan (EXPLAIN
 * ANALYZE, 1M-row tenant):
 *   Limit -> WindowAgg -> Index Scan using contacts_sync_key on contacts
 *            Index Cond: ((tenant_id = $1) AND (ROW(updated_at, id) > ROW($2, $3)))
 *            Filter: (deleted_at IS NULL)
 * and for the newest key: Limit -> Index Only Scan Backward using contacts_sync_key.
 */
export async function readPage(db: Db, tenantId: string, after: Key, pageSize: number, options: PageOptions = {}): Promise<PageResult> {
  const client = await db.$client.connect();
  let failure: Error | undefined;
  try {
    const [row] = await copyRowsBinary(client, inlined(client, pageStatement(tenantId, after, pageSize, options)));
    const [docs, fetched, lastUs, lastId, newestUs, newestId, pending] = row!;
    const count = Math.min(fetched!.readInt32BE(0), pageSize);
    return {
      json: docs ?? Buffer.alloc(0),
      count,
      last: lastId ? { us: BigInt(lastUs!.toString()), id: lastId.toString('utf8') } : undefined,
      hasMore: fetched!.readInt32BE(0) > pageSize,
      newest: newestId ? { us: BigInt(newestUs!.toString()), id: newestId.toString('utf8') } : undefined,
      tombstonesPending: pending ? pending[0] === 1 : undefined,
    };
  } catch (err) {
    if (isDatabaseUnavailable(err)) failure = err as Error;
    throw err;
  } finally {
    client.release(failure);
  }
}

const dialect = new PgDialect();

/**
 * The statement with its parameters written in as literals: COPY takes none. Every value is
 * quoted by the driver's escapeLiteral; the statement's own text holds no `$`.
 */
function inlined(client: pg.PoolClient, statement: SQL): string {
  const { sql: text, params } = dialect.sqlToQuery(statement);
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const value = params[Number(n) - 1];
    if (value === null || value === undefined) return 'NULL';
    if (typeof value === 'number' && Number.isInteger(value)) return String(value);
    return client.escapeLiteral(String(value));
  });
}

/** The statement itself, exported so its plan can be checked (test/page-plan.test.ts). */
export function pageStatement(tenantId: string, after: Key, pageSize: number, options: PageOptions = {}): SQL {
  // rn numbers the rows in key order as the index delivers them (no sort); the documents are
  // joined in rn order, which string_agg's ORDER BY guarantees rather than leaving to the plan.
  // The tenant id is a sub-select so the plan is made for a typical tenant: a tenant that
  // autovacuum has not analyzed since it grew is estimated at a handful of rows, for which
  // reading it all by primary key and sorting looks as cheap as the sync-key range.
  return sql`
    WITH page AS MATERIALIZED (
      SELECT doc, id, updated_at, row_number() OVER (ORDER BY updated_at, id) AS rn
      FROM contacts
      WHERE tenant_id = (SELECT ${tenantId}::uuid) AND deleted_at IS NULL
        AND (updated_at, id) > (${microsToTimestamp(after.us)}::timestamptz, ${after.id})
      ORDER BY updated_at, id
      LIMIT ${pageSize + 1}
    ),
    counted AS (SELECT count(*)::int AS fetched FROM page),
    last AS (
      -- The key's text form for the last row only: extract() is numeric arithmetic, a
      -- measurable share of the page when done for every row.
      SELECT (extract(epoch FROM updated_at) * 1000000)::bigint::text AS us, id
      FROM page, counted WHERE rn = least(fetched, ${pageSize})
    ),
    newest AS (
      SELECT (extract(epoch FROM updated_at) * 1000000)::bigint::text AS us, id
      FROM contacts
      WHERE tenant_id = ${tenantId}
      ORDER BY updated_at DESC, id DESC
      LIMIT 1
    )
    SELECT coalesce((SELECT string_agg(doc, ',' ORDER BY rn) FROM page WHERE rn <= ${pageSize}), '') AS docs,
           counted.fetched,
           (SELECT us FROM last) AS last_us, (SELECT id FROM last) AS last_id,
           (SELECT us FROM newest) AS newest_us, (SELECT id FROM newest) AS newest_id,
           ${'tombstonesAfter' in options ? tombstonesExist(tenantId, options.tombstonesAfter ?? null) : sql`NULL::boolean`} AS tombstones_pending
    FROM counted
  `;
}

/** Whether a tombstone newer than `since` exists (null: any tombstone). Uses contacts_tombstones. */
function tombstonesExist(tenantId: string, since: string | null): SQL {
  return sql`EXISTS (
    SELECT 1 FROM contacts
    WHERE tenant_id = ${tenantId} AND deleted_at IS NOT NULL
      AND updated_at > coalesce(${since}::timestamptz, '-infinity')
  )`;
}
