import { sql } from 'drizzle-orm';
import type { Db, Executor } from '../db/client.js';
import { TenantNotFoundError } from '../tenants/errors.js';
import { isTombstone, normalizeContact, type ContactChange } from './contact.js';

/** A change as the writer takes it: a contact (optionally with the CRM's own change time) or a tombstone. */
export type MirrorChange = ContactChange & { source_updated_at?: string };

export interface WriteCounts {
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
}

export class InvalidChangeError extends Error {
  readonly code = 'INVALID_CONTACT';
  readonly statusCode = 400;
  constructor(
    readonly index: number,
    reason: string,
  ) {
    super(`item ${index}: ${reason}`);
  }
}

type Transaction = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * The one way contacts change. It holds the invariant the sync endpoint's completeness rests on
 * (shared/DESIGN.md): for one tenant, every committed write has a larger (updated_at, id) than
 * every write committed before it.
 *
 * - The tenant row is locked first, so writers of one tenant commit one after another.
 * - Only then is the timestamp picked, as greatest(clock_timestamp(), last_change_at + 1 µs):
 *   strictly increasing even if the clock steps back, and picked after every earlier writer
 *   of this tenant has committed.
 * - A row whose content is what is stored is not rewritten, so its updated_at does not move
 *   and Talkdesk is not sent the same contact again.
 * - A tombstone is a write too: it bumps updated_at, so incremental syncs can see it.
 *
 * `alsoInTransaction` runs inside the same transaction, after the batch, with the tenant still
 * locked: ingest uses it to advance its source cursor atomically with the contacts.
 */
export async function writeContacts(
  db: Db,
  tenantId: string,
  changes: readonly MirrorChange[],
  alsoInTransaction?: (tx: Transaction, counts: WriteCounts) => Promise<void>,
): Promise<WriteCounts> {
  const items = prepareBatch(changes);
  return db.transaction(async (tx) => {
    const counts = await applyBatch(tx, tenantId, items);
    if (alsoInTransaction) await alsoInTransaction(tx, counts);
    return counts;
  });
}

/** Last item for an id wins; contacts are normalized; a blank name is refused with its index. */
function prepareBatch(changes: readonly MirrorChange[]): Record<string, unknown>[] {
  const byId = new Map<string, Record<string, unknown>>();
  changes.forEach((change, index) => {
    if (isTombstone(change)) {
      byId.delete(change.id);
      byId.set(change.id, { id: change.id, deleted: true });
      return;
    }
    const contact = normalizeContact(change);
    if (!contact) throw new InvalidChangeError(index, 'name must not be blank');
    byId.delete(change.id);
    byId.set(change.id, { ...contact, deleted: false, source_updated_at: change.source_updated_at ?? null });
  });
  return [...byId.values()];
}

async function applyBatch(tx: Executor, tenantId: string, items: Record<string, unknown>[]): Promise<WriteCounts> {
  const lock = await tx.execute(sql`SELECT 1 FROM tenants WHERE id = ${tenantId} FOR UPDATE`);
  if (lock.rowCount === 0) throw new TenantNotFoundError(tenantId);
  if (items.length === 0) return { inserted: 0, updated: 0, unchanged: 0, deleted: 0 };

  // One statement for the whole batch: the items travel as one JSON parameter (no limit on
  // the number of bind parameters), the timestamp is read after the lock above was granted,
  // and every part sees the same snapshot. Content columns are compared with IS DISTINCT FROM
  // so NULLs compare equal; source_updated_at alone changing is not a change Talkdesk needs.
  const result = await tx.execute<{ inserted: string; updated: string; deleted: string }>(sql`
    WITH ts AS (
      SELECT greatest(clock_timestamp(), last_change_at + interval '1 microsecond') AS ts
      FROM tenants WHERE id = ${tenantId}
    ),
    input AS (
      SELECT * FROM json_to_recordset(${JSON.stringify(items)}::json) AS x(
        id text, deleted boolean, name text, company text, title text, emails text[], phones text[],
        photo_url text, address text, websites text[], twitter text, url text, source_updated_at timestamptz)
    ),
    up AS (
      INSERT INTO contacts AS c (tenant_id, id, name, company, title, emails, phones, photo_url, address,
                                 websites, twitter, url, source_updated_at, updated_at, deleted_at)
      SELECT ${tenantId}, i.id, i.name, i.company, i.title, i.emails, i.phones, i.photo_url, i.address,
             i.websites, i.twitter, i.url, i.source_updated_at, ts.ts, NULL
      FROM input i CROSS JOIN ts
      WHERE NOT i.deleted
      ON CONFLICT (tenant_id, id) DO UPDATE SET
        name = excluded.name, company = excluded.company, title = excluded.title, emails = excluded.emails,
        phones = excluded.phones, photo_url = excluded.photo_url, address = excluded.address,
        websites = excluded.websites, twitter = excluded.twitter, url = excluded.url,
        source_updated_at = excluded.source_updated_at, updated_at = excluded.updated_at, deleted_at = NULL
      WHERE (c.name, c.company, c.title, c.emails, c.phones, c.photo_url, c.address, c.websites, c.twitter,
             c.url, c.deleted_at)
        IS DISTINCT FROM
            (excluded.name, excluded.company, excluded.title, excluded.emails, excluded.phones,
             excluded.photo_url, excluded.address, excluded.websites, excluded.twitter, excluded.url,
             NULL::timestamptz)
      RETURNING (xmax = 0) AS inserted
    ),
    del AS (
      UPDATE contacts c SET deleted_at = ts.ts, updated_at = ts.ts
      FROM ts, input i
      WHERE c.tenant_id = ${tenantId} AND c.id = i.id AND i.deleted AND c.deleted_at IS NULL
      RETURNING 1
    ),
    counts AS (
      SELECT (SELECT count(*) FROM up WHERE inserted) AS inserted,
             (SELECT count(*) FROM up WHERE NOT inserted) AS updated,
             (SELECT count(*) FROM del) AS deleted
    ),
    bump AS (
      UPDATE tenants t SET last_change_at = ts.ts
      FROM ts, counts
      WHERE t.id = ${tenantId} AND counts.inserted + counts.updated + counts.deleted > 0
      RETURNING 1
    )
    SELECT inserted, updated, deleted, (SELECT count(*) FROM bump) AS bumped FROM counts
  `);
  const row = result.rows[0]!;
  const inserted = Number(row.inserted);
  const updated = Number(row.updated);
  const deleted = Number(row.deleted);
  return { inserted, updated, deleted, unchanged: items.length - inserted - updated - deleted };
}
