import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';

/** The fields of a contact its search keys are made of. */
export type KeyedContact = {
  id: string;
  name: string;
  emails: string[] | null;
  phones: string[] | null;
};

/** A contact's search keys (lookup/search-keys.ts): given by the caller, so the mirror stays free of CRM code. */
export type KeysOf = (contact: KeyedContact) => ReadonlyArray<{ kind: string; key: string }>;

/** Contacts indexed per transaction: a few hundred milliseconds of work, so no lock is held long. */
export const INDEX_BATCH = 5_000;

/**
 * Keeps contact_keys, the lookup's index, off the write path: the writer pays nothing for it (an
 * index the writer maintained ran it at half speed). Each tenant has a watermark, the sync key
 * (updated_at, id) of the last contact indexed; a pass reads the contacts past it in that order (the
 * sync-key index serves it), replaces their keys and advances the watermark, in one transaction.
 *
 * Complete for the same reason a sync is (shared/DESIGN.md): a write not yet visible here commits
 * with a key larger than every key read, so it is past the new watermark. Lookups read the keys up
 * to the watermark and scan the contacts past it, so nothing committed is missed in between.
 *
 * Returns how many contacts were indexed. Passes of several processes do not collide: the
 * watermark's row is locked with SKIP LOCKED, and a tenant another process is indexing is skipped.
 */
export async function indexContactKeys(db: Db, keysOf: KeysOf, batch = INDEX_BATCH): Promise<number> {
  const { rows } = await db.execute<{ id: string }>(sql`
    SELECT t.id FROM tenants t LEFT JOIN contact_keys_state s ON s.tenant_id = t.id
    WHERE s.tenant_id IS NULL OR t.last_change_at > s.indexed_at`);
  let indexed = 0;
  for (const { id } of rows) {
    for (;;) {
      const n = await indexTenantKeys(db, id, keysOf, batch);
      indexed += n;
      if (n < batch) break;
    }
  }
  return indexed;
}

/** One batch of one tenant; returns how many contacts it indexed (0 when caught up or locked elsewhere). */
export async function indexTenantKeys(db: Db, tenantId: string, keysOf: KeysOf, batch = INDEX_BATCH): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`
      INSERT INTO contact_keys_state (tenant_id, indexed_at, indexed_id) VALUES (${tenantId}, '-infinity', '')
      ON CONFLICT (tenant_id) DO NOTHING`);
    const state = await tx.execute<{ at: string; id: string }>(sql`
      SELECT indexed_at::text AS at, indexed_id AS id FROM contact_keys_state WHERE tenant_id = ${tenantId} FOR UPDATE SKIP LOCKED`);
    const mark = state.rows[0];
    if (!mark) return 0;
    // The key's text form is named key_ts: ordered by an output column named updated_at, the
    // planner would sort the text instead of walking the index (shared/DESIGN.md).
    const { rows } = await tx.execute<KeyedContact & { key_ts: string }>(sql`
      SELECT id, name, emails, phones, updated_at::text AS key_ts
      FROM contacts
      WHERE tenant_id = ${tenantId} AND (updated_at, id) > (${mark.at}::timestamptz, ${mark.id})
      ORDER BY updated_at, id
      LIMIT ${batch}`);
    if (rows.length === 0) return 0;
    const ids = rows.map((r) => r.id);
    const kinds: string[] = [];
    const keys: string[] = [];
    const owners: string[] = [];
    for (const row of rows) {
      for (const k of keysOf(row)) {
        kinds.push(k.kind);
        keys.push(k.key);
        owners.push(row.id);
      }
    }
    await tx.execute(sql`DELETE FROM contact_keys WHERE tenant_id = ${tenantId} AND contact_id = ANY(${sql.param(ids)}::text[])`);
    if (keys.length > 0) {
      await tx.execute(sql`
        INSERT INTO contact_keys (tenant_id, kind, key, contact_id)
        SELECT ${tenantId}, * FROM unnest(${sql.param(kinds)}::text[], ${sql.param(keys)}::text[], ${sql.param(owners)}::text[])`);
    }
    const last = rows[rows.length - 1]!;
    await tx.execute(sql`
      UPDATE contact_keys_state SET indexed_at = ${last.key_ts}::timestamptz, indexed_id = ${last.id} WHERE tenant_id = ${tenantId}`);
    return rows.length;
  });
}

/** Removes contacts' keys at once: an erase must not leave a person's phone or email searchable. */
export const eraseKeys = (tenantId: string, ids: ReturnType<typeof sql>) =>
  sql`DELETE FROM contact_keys WHERE tenant_id = (SELECT ${tenantId}::uuid) AND contact_id = ANY(${ids})`;
