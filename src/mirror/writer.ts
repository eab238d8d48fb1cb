import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { isDatabaseUnavailable } from '../db/availability.js';
import type { Db } from '../db/client.js';
import * as schema from '../db/schema.js';
import { TenantNotFoundError } from '../tenants/errors.js';
import { disarmQueryTimeout } from '../db/copy-binary.js';
import { copyRow } from './copy-format.js';
import { isTombstone, normalizeContact, type Contact, type ContactChange } from './contact.js';
import { eraseKeys } from './key-indexer.js';
import { changedFieldsMask, eraseHistory, pruneVersions, VERSIONS_KEPT, type WriteSource } from './history.js';

/**
 * A privacy deletion (an operator's erase, a CRM's GDPR delete): a tombstone that also removes
 * the contact's data and its history, so nothing of the person stays in the mirror. Only the id,
 * which the deletion rule needs, remains.
 */
export interface Erasure {
  id: string;
  deleted: true;
  erase: true;
}

/**
 * A change as the writer takes it: a contact (optionally with the CRM's own change time, which
 * keeps an older version from replacing a newer one), a tombstone, or an erasure.
 */
export type MirrorChange = (ContactChange | Erasure) & { source_updated_at?: string };

const isErasure = (c: MirrorChange): boolean => (c as Partial<Erasure>).erase === true;

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
 * Every version it commits is recorded in contact_history in the same transaction, with `source`
 * (where it came from) and the Talkdesk fields that changed (mirror/history.ts).
 *
 * `alsoInTransaction` runs inside the same transaction, after the batch, with the tenant still
 * locked: ingest uses it to advance its source cursor atomically with the contacts.
 */
export async function writeContacts(
  db: Db,
  tenantId: string,
  changes: readonly MirrorChange[],
  source: WriteSource,
  alsoInTransaction?: (tx: Transaction, counts: WriteCounts) => Promise<void>,
  options: WriteOptions = {},
): Promise<WriteCounts> {
  const batch = planBatch(changes, source);
  // A client of our own rather than db.transaction: the batch is streamed with COPY, which needs
  // the pg client itself, and it must be the one the transaction runs on.
  const client = await db.$client.connect();
  let failure: Error | undefined;
  try {
    return await drizzle(client, { schema }).transaction(async (tx) => {
      const counts = await applyBatch(tx, client, tenantId, batch, options);
      if (alsoInTransaction) await alsoInTransaction(tx, counts);
      return counts;
    });
  } catch (err) {
    // A client whose connection broke, or whose COPY was abandoned by a bad item, does not go
    // back to the pool.
    if (isDatabaseUnavailable(err) || err instanceof InvalidChangeError) failure = err as Error;
    throw err;
  } finally {
    client.release(failure);
  }
}

export interface WriteOptions {
  /**
   * Tombstone only rows whose updated_at is at or before this mirror time (full microseconds, as
   * text): a deletion sweep's ids are "not seen by a listing that started then", which says
   * nothing of a row written since. Checked in the tombstoning statement, under the tenant lock.
   * These tombstones also drop the contact's data (see applyBatch).
   */
  tombstonesUnchangedSince?: string;
}

interface BatchPlan {
  changes: readonly MirrorChange[];
  /** Indexes of the contacts to write: the last item for each id that is not a tombstone. */
  live: number[];
  /** Ids to tombstone. */
  tombstones: string[];
  /** Ids to erase. */
  erasures: string[];
  size: number;
  source: WriteSource;
}

/** Last item for an id wins. */
function planBatch(changes: readonly MirrorChange[], source: WriteSource): BatchPlan {
  const lastIndex = new Map<string, number>();
  changes.forEach((change, index) => {
    if (change.id.includes('\0')) throw new InvalidChangeError(index, 'id must not contain U+0000');
    lastIndex.delete(change.id);
    lastIndex.set(change.id, index);
  });
  const live: number[] = [];
  const tombstones: string[] = [];
  const erasures: string[] = [];
  for (const [id, index] of lastIndex) {
    const change = changes[index]!;
    if (isErasure(change)) erasures.push(id);
    else if (isTombstone(change as ContactChange)) tombstones.push(id);
    else live.push(index);
  }
  return { changes, live, tombstones, erasures, size: lastIndex.size, source };
}

const ROWS_PER_CHUNK = 500;

/**
 * The live contacts as COPY text, normalized and rendered a chunk at a time as PostgreSQL asks
 * for more, so rendering the next rows overlaps with PostgreSQL parsing the previous ones. A
 * blank name or a U+0000 is refused with the item's index, which aborts the COPY and with it
 * the transaction.
 */
function* copyChunks({ changes, live }: BatchPlan): Generator<string> {
  let chunk = '';
  let rows = 0;
  for (const index of live) {
    const change = changes[index]!;
    const contact = normalizeContact(change as Contact);
    if (!contact) throw new InvalidChangeError(index, 'name must not be blank');
    const row = copyRow(contact, change.source_updated_at);
    // PostgreSQL text cannot hold U+0000: this item's 400, not a failed COPY.
    if (row.includes('\0')) throw new InvalidChangeError(index, 'text must not contain U+0000');
    chunk += `${row}\n`;
    if (++rows === ROWS_PER_CHUNK) {
      yield chunk;
      chunk = '';
      rows = 0;
    }
  }
  if (chunk !== '') yield chunk;
}

/** Connections that already have the session's staging table. */
const staged = new WeakSet<pg.PoolClient>();

async function applyBatch(tx: Transaction, client: pg.PoolClient, tenantId: string, batch: BatchPlan, options: WriteOptions): Promise<WriteCounts> {
  // A 10k-row batch is costed high enough for JIT, whose compilation (~15 ms) is pure overhead
  // for statements this simple. The changed rows are held once for both the contacts and their
  // history rows; 10,000 of them outgrow the default 4 MB and went through a temporary file.
  await tx.execute(sql`SELECT set_config('jit', 'off', true), set_config('work_mem', '32MB', true)`);
  const lock = await tx.execute(sql`SELECT 1 FROM tenants WHERE id = ${tenantId} FOR UPDATE`);
  if (lock.rowCount === 0) throw new TenantNotFoundError(tenantId);
  if (batch.size === 0) return { inserted: 0, updated: 0, unchanged: 0, deleted: 0 };
  // Read only now that the lock is held: see the invariant above.
  const { rows: tsRows } = await tx.execute<{ ts: string }>(sql`
    SELECT greatest(clock_timestamp(), last_change_at + interval '1 microsecond')::text AS ts
    FROM tenants WHERE id = ${tenantId}`);
  const ts = tsRows[0]!.ts;

  let inserted = 0;
  let updated = 0;
  if (batch.live.length > 0) {
    await stage(tx, client, batch);
    // The anti-join drops rows whose content is what is stored before the INSERT sees them: an
    // unchanged contact is then only read, where ON CONFLICT DO UPDATE would lock (write) it.
    // The conflict clause stays for the rows that do change. Content columns are compared with
    // IS DISTINCT FROM so NULLs compare equal; source_updated_at alone changing is not a change
    // Talkdesk needs. The same comparison, column by column, names the changed fields for the
    // history row written beside the contact.
    const { rows } = await tx.execute<{ inserted: string; updated: string }>(sql`
      WITH changed AS (
        SELECT b.*, o.found, ${changedFieldsMask('o', 'b')} AS fields
        FROM mirror_batch b
        -- A primary-key lookup per row, whatever the statistics say. LATERAL with LIMIT 1 keeps
        -- it a nested loop: the staging table has no statistics, and a hash join would read the
        -- whole tenant. The tenant id is a sub-select so the plan is made for a typical tenant:
        -- a new tenant is absent from contacts' statistics until autovacuum analyzes it, and
        -- planned for its literal id the lookup went through the sync-key index (tenant_id,
        -- updated_at, id), a scan of the whole tenant per row (a fresh tenant's 7th batch of
        -- 10,000 took 17 s).
        LEFT JOIN LATERAL (
          SELECT true AS found, o.deleted_at IS NULL AS live, o.source_updated_at, o.doc, o.name, o.company, o.title, o.emails, o.phones,
                 o.photo_url, o.address, o.websites, o.twitter, o.url
          FROM contacts o
          WHERE o.tenant_id = (SELECT ${tenantId}::uuid) AND o.id = b.id
          LIMIT 1
        ) o ON true
        -- Equal documents mean equal content (the writer renders them canonically), one text
        -- comparison; the columns decide when the documents differ, since a document rendered
        -- by migration 0003 may differ in spacing only.
        WHERE (o.found IS NULL OR NOT o.live
               OR (o.doc <> b.doc
                   AND (o.name, o.company, o.title, o.emails, o.phones, o.photo_url, o.address, o.websites, o.twitter, o.url)
                       IS DISTINCT FROM
                       (b.name, b.company, b.title, b.emails, b.phones, b.photo_url, b.address, b.websites, b.twitter, b.url)))
          -- Never an older version over a newer one: a late webhook's read, or a poll's page from a
          -- search index that lags, may bring a version older than the one stored. Only the CRM's own
          -- change times are compared (a change without one, a push, is always written).
          AND NOT coalesce(o.source_updated_at > b.source_updated_at, false)
      ),
      up AS (
        INSERT INTO contacts AS c (tenant_id, id, name, company, title, emails, phones, photo_url, address,
                                   websites, twitter, url, source_updated_at, doc, updated_at, deleted_at, versions)
        SELECT ${tenantId}, id, name, company, title, emails, phones, photo_url, address,
               websites, twitter, url, source_updated_at, doc, ${ts}::timestamptz, NULL, 1
        FROM changed
        ON CONFLICT (tenant_id, id) DO UPDATE SET
          name = excluded.name, company = excluded.company, title = excluded.title, emails = excluded.emails,
          phones = excluded.phones, photo_url = excluded.photo_url, address = excluded.address,
          websites = excluded.websites, twitter = excluded.twitter, url = excluded.url,
          source_updated_at = excluded.source_updated_at, doc = excluded.doc, updated_at = excluded.updated_at, deleted_at = NULL,
          versions = c.versions + 1
        RETURNING (xmax = 0) AS inserted, id, versions
      ),
      -- Every row of changed is written (the tenant is locked, so nothing changed since it was read).
      recorded AS (
        INSERT INTO contact_history (tenant_id, contact_id, at, source, fields)
        SELECT ${tenantId}, id, ${ts}::timestamptz, ${batch.source}, fields FROM changed
      ),
      pruned AS (${pruneVersions(tenantId, sql`SELECT id FROM up WHERE versions > ${VERSIONS_KEPT}`)})
      SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM up`);
    inserted = Number(rows[0]!.inserted);
    updated = Number(rows[0]!.updated);
  }

  let deleted = 0;
  if (batch.tombstones.length > 0) {
    // A tombstone keeps its last version, for operators to look up (a deleted contact is found,
    // and says so). A sweep's tombstone keeps none of it: the CRM has no trace of that contact left
    // (a privacy deletion, a purge), so neither does the mirror. Nothing reads a tombstone's fields
    // on the sync path (the page query and the deletion rule read its key and deleted_at; a
    // revived id is rewritten whole). The NOT NULL columns get the emptiest value they take.
    const since = options.tombstonesUnchangedSince;
    const withoutData = sql`, name = '', company = NULL, title = NULL, emails = NULL, phones = NULL, photo_url = NULL, address = NULL,
          websites = NULL, twitter = NULL, url = NULL, doc = json_build_object('id', id)::text`;
    const { rows } = await tx.execute<{ deleted: string }>(sql`
      WITH gone AS (
        UPDATE contacts SET deleted_at = ${ts}::timestamptz, updated_at = ${ts}::timestamptz, versions = versions + 1
          ${since === undefined ? sql`` : withoutData}
        WHERE tenant_id = (SELECT ${tenantId}::uuid) AND id = ANY(${sql.param(batch.tombstones)}::text[]) AND deleted_at IS NULL
          ${since === undefined ? sql`` : sql`AND updated_at <= ${since}::timestamptz`}
        RETURNING id, versions
      ),
      recorded AS (
        INSERT INTO contact_history (tenant_id, contact_id, at, source, fields, deleted)
        SELECT ${tenantId}, id, ${ts}::timestamptz, ${batch.source}, 0, true FROM gone
      ),
      pruned AS (${pruneVersions(tenantId, sql`SELECT id FROM gone WHERE versions > ${VERSIONS_KEPT}`)})
      SELECT count(*) AS deleted FROM gone`);
    deleted = Number(rows[0]!.deleted);
  }
  if (batch.erasures.length > 0) {
    const ids = sql`${sql.param(batch.erasures)}::text[]`;
    // A live contact becomes a tombstone (a write, with a new key, so the deletion reaches
    // Talkdesk); one already tombstoned keeps its key, since Talkdesk's copies are already
    // told. Either way its data, history and search keys go (the key indexer would not see a
    // tombstone whose key did not move); the id stays for the deletion rule.
    const { rows } = await tx.execute<{ deleted: string }>(sql`
      WITH erased AS (
        UPDATE contacts SET
          updated_at = CASE WHEN deleted_at IS NULL THEN ${ts}::timestamptz ELSE updated_at END,
          deleted_at = coalesce(deleted_at, ${ts}::timestamptz),
          name = '', company = NULL, title = NULL, emails = NULL, phones = NULL, photo_url = NULL, address = NULL,
          websites = NULL, twitter = NULL, url = NULL, source_updated_at = NULL, doc = jsonb_build_object('id', id)::text,
          versions = 0
        WHERE tenant_id = (SELECT ${tenantId}::uuid) AND id = ANY(${ids})
        RETURNING updated_at = ${ts}::timestamptz AS tombstoned
      ),
      forgotten AS (${eraseHistory(tenantId, ids)}),
      unindexed AS (${eraseKeys(tenantId, ids)})
      SELECT count(*) FILTER (WHERE tombstoned) AS deleted FROM erased`);
    deleted += Number(rows[0]!.deleted);
  }

  if (inserted + updated + deleted > 0) {
    await tx.execute(sql`UPDATE tenants SET last_change_at = ${ts}::timestamptz WHERE id = ${tenantId}`);
  }
  return { inserted, updated, deleted, unchanged: batch.size - inserted - updated - deleted };
}

/**
 * Streams the rows into the session's staging table. It is emptied at every commit (ON COMMIT
 * DELETE ROWS), which PostgreSQL skips for transactions that never touched it, so the pooled
 * connection's other work pays nothing for it.
 */
async function stage(tx: Transaction, client: pg.PoolClient, batch: BatchPlan): Promise<void> {
  if (!staged.has(client)) {
    await tx.execute(sql`
      CREATE TEMP TABLE IF NOT EXISTS mirror_batch (
        id text COLLATE "C", name text, company text, title text, emails text[], phones text[],
        photo_url text, address text, websites text[], twitter text, url text, source_updated_at timestamptz, doc text
      ) ON COMMIT DELETE ROWS`);
    staged.add(client);
  }
  const copy = client.query(copyStreams.from('COPY mirror_batch FROM STDIN'));
  try {
    await pipeline(Readable.from(copyChunks(batch), { objectMode: false }), copy);
  } finally {
    disarmQueryTimeout(copy);
  }
}
