import type { CountryCode } from 'libphonenumber-js/max';
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { contactSearchKeys, emailKey, nameKey, phoneQueryKeys, type KeyKind } from './search-keys.js';

export interface LookupQuery {
  by: KeyKind;
  /** What the operator typed: a phone number in any format, an email address, or the start of a name. */
  value: string;
}

export interface LookupPage {
  /** The matching contacts' ids, in a stable order (by the matched key, then id). */
  ids: string[];
  /** The offset of the next page, when there is one. */
  nextOffset?: number;
  /**
   * True when more contacts were written since the key indexer's last pass than a lookup scans
   * (the indexer is catching up, as after a large backfill): a contact among them may be missing.
   */
  partial: boolean;
}

/** How many not-yet-indexed contacts a lookup scans; the indexer runs every ~2 s, so normally a handful. */
export const TAIL_SCAN_LIMIT = 20_000;

type Match = {
  id: string;
  sort: string;
};

/**
 * The contacts of a tenant matching a query, deleted ones included. Keys up to the indexer's
 * watermark come from contact_keys by index; contacts written past it are scanned and keyed here
 * with the same function (lookup/search-keys.ts), so a contact is found the moment its write
 * commits. An index hit whose contact moved past the watermark is left to the scan, which sees its
 * current version. Read in one snapshot, so the watermark and both halves agree.
 *
 * EXPLAIN ANALYZE of a phone lookup on a 1M-contact tenant (index part):
 *   Limit -> GroupAggregate -> Nested Loop
 *     -> Index Only Scan using contact_keys_lookup on contact_keys k
 *          Index Cond: ((tenant_id = $1) AND (kind = 'phone') AND (key = ANY ($2)))
 *     -> Index Scan using contacts_pkey on contacts c  Index Cond: ((tenant_id = $1) AND (id = k.contact_id))
 */
export async function lookupContacts(
  db: Db,
  tenantId: string,
  query: LookupQuery,
  page: { region: CountryCode; limit: number; offset: number; tailLimit?: number },
): Promise<LookupPage> {
  const wanted = page.offset + page.limit + 1;
  const tailLimit = page.tailLimit ?? TAIL_SCAN_LIMIT;
  const matcher = matcherOf(query, page.region);
  return db.transaction(
    async (tx) => {
      const state = await tx.execute<{ at: string; id: string }>(sql`
        SELECT indexed_at::text AS at, indexed_id AS id FROM contact_keys_state WHERE tenant_id = ${tenantId}`);
      const mark = state.rows[0] ?? { at: '-infinity', id: '' };
      const indexed = sql`(c.updated_at, c.id) <= (${mark.at}::timestamptz, ${mark.id})`;
      const hits = matcher.keys.length === 0 ? { rows: [] } : await tx.execute<Match>(indexQuery(tenantId, matcher, indexed, wanted));
      const { rows: tail } = await tx.execute<{ id: string; name: string; emails: string[] | null; phones: string[] | null }>(sql`
        SELECT id, name, emails, phones FROM contacts
        WHERE tenant_id = ${tenantId} AND (updated_at, id) > (${mark.at}::timestamptz, ${mark.id})
        ORDER BY updated_at, id
        LIMIT ${tailLimit + 1}`);
      const partial = tail.length > tailLimit;
      const matches: Match[] = [...hits.rows];
      for (const row of tail.slice(0, tailLimit)) {
        const sort = matcher.test(contactSearchKeys(row, page.region).filter((k) => k.kind === query.by).map((k) => k.key));
        if (sort !== undefined) matches.push({ id: row.id, sort });
      }
      // The index's order: bytewise, as COLLATE "C" sorts (key, contact_id).
      matches.sort((a, b) => Buffer.compare(Buffer.from(a.sort), Buffer.from(b.sort)) || Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)));
      const ids = matches.slice(page.offset, page.offset + page.limit).map((m) => m.id);
      return { ids, partial, ...(matches.length > page.offset + page.limit ? { nextOffset: page.offset + page.limit } : {}) };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}

interface Matcher {
  by: KeyKind;
  /** Keys looked up exactly (phone, email), or the one prefix (name). */
  keys: string[];
  prefix: boolean;
  /** The sort value of a contact with these keys when it matches. */
  test(keys: string[]): string | undefined;
}

function matcherOf(query: LookupQuery, region: CountryCode): Matcher {
  if (query.by === 'name') {
    const prefix = nameKey(query.value);
    return { by: 'name', keys: prefix === '' ? [] : [prefix], prefix: true, test: (keys) => keys.find((k) => k.startsWith(prefix)) };
  }
  const keys = query.by === 'phone' ? phoneQueryKeys(query.value, region) : [emailKey(query.value)].filter((k) => k !== '');
  const wanted = new Set(keys);
  return {
    by: query.by,
    keys,
    prefix: false,
    test: (own) => own.filter((k) => wanted.has(k)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))[0],
  };
}

/**
 * The index half of a lookup as one statement, for the benchmark's EXPLAIN: the contacts indexed
 * up to the watermark (`at`, `id`) that match, at most `wanted`.
 */
export function lookupIndexSql(tenantId: string, query: LookupQuery, region: CountryCode, mark: { at: string; id: string }, wanted: number): SQL {
  return indexQuery(tenantId, matcherOf(query, region), sql`(c.updated_at, c.id) <= (${mark.at}::timestamptz, ${mark.id})`, wanted);
}

function indexQuery(tenantId: string, m: Matcher, indexed: SQL, wanted: number): SQL {
  const join = sql`JOIN contacts c ON c.tenant_id = (SELECT ${tenantId}::uuid) AND c.id = k.contact_id`;
  if (m.prefix) {
    // A prefix of a COLLATE "C" key is a range of the btree (up to the prefix followed by the
    // largest code point), walked in (key, contact_id) order.
    const prefix = m.keys[0]!;
    return sql`
      SELECT k.contact_id AS id, k.key AS sort FROM contact_keys k ${join}
      WHERE k.tenant_id = ${tenantId} AND k.kind = 'name'
        AND k.key >= ${prefix} AND k.key < (${prefix} || chr(1114111)) AND starts_with(k.key, ${prefix}) AND ${indexed}
      ORDER BY k.key, k.contact_id
      LIMIT ${wanted}`;
  }
  return sql`
    SELECT k.contact_id AS id, min(k.key) AS sort FROM contact_keys k ${join}
    WHERE k.tenant_id = ${tenantId} AND k.kind = ${m.by} AND k.key = ANY(${sql.param(m.keys)}::text[]) AND ${indexed}
    GROUP BY k.contact_id
    ORDER BY 2, 1
    LIMIT ${wanted}`;
}
