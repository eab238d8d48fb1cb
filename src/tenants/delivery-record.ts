import { sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import type { Credential } from '../db/schema.js';

/** A position in the tenant's change order, as the cursor carries it. */
export interface DeliveryKey {
  us: bigint;
  id: string;
}

/** What one served sync page tells about the Talkdesk copy that asked for it. */
export interface SyncObservation {
  /** The largest key the page passed: every version up to it has been handed out to the copy. */
  handedOut: DeliveryKey;
  /** The checkpoint the request carried, which the copy only holds after completing a run. */
  confirmed?: DeliveryKey;
  /** The full-run start that checkpoint carries: tombstones up to it are gone from the copy. */
  deletionsConfirmedUs?: bigint;
  /** A full run's last page was served: tombstones up to this time (a timestamptz literal) are reflected (the deletion rule's record). */
  deletionsReflectedAt?: string;
  /** The run ends with this page. */
  runEnded: boolean;
}

export type CopyRecord = Pick<
  Credential,
  'id' | 'handedOutUs' | 'handedOutId' | 'confirmedUs' | 'confirmedId' | 'deletionsConfirmedUs' | 'lastSyncAt'
>;

/** How stale last_sync_at may grow while nothing else changes (a quiet copy's requests write nothing more often). */
const LAST_SYNC_EVERY_MS = 60_000;
/** Within a run, the handed-out key is written at most this often (and always on its last page). */
const HANDED_OUT_EVERY_MS = 1_000;

/**
 * Records what a served page says about its copy, in one UPDATE of the credential's row that the
 * request already read (tenants/resolve.ts) and only when something grows: a run of a thousand
 * pages writes a handful of times, not a thousand. This is also the credential's "last used"
 * touch, and the deletion rule's record of a full run, so a page costs no more statements than
 * before. Concurrent requests of one copy cannot move a value back: each only grows in SQL too.
 */
export async function recordSync(db: Executor, copy: CopyRecord, seen: SyncObservation, nowMs = Date.now()): Promise<void> {
  const sinceSync = copy.lastSyncAt === null ? Infinity : nowMs - Date.parse(copy.lastSyncAt);
  const confirmed = seen.confirmed && exceeds(seen.confirmed, copy.confirmedUs, copy.confirmedId) ? seen.confirmed : undefined;
  const handedOut =
    exceeds(seen.handedOut, copy.handedOutUs, copy.handedOutId) && (seen.runEnded || sinceSync >= HANDED_OUT_EVERY_MS) ? seen.handedOut : undefined;
  const deletionsConfirmed =
    seen.deletionsConfirmedUs !== undefined && (copy.deletionsConfirmedUs === null || seen.deletionsConfirmedUs > copy.deletionsConfirmedUs)
      ? seen.deletionsConfirmedUs
      : undefined;
  const due = sinceSync >= LAST_SYNC_EVERY_MS;
  if (!confirmed && !handedOut && deletionsConfirmed === undefined && seen.deletionsReflectedAt === undefined && !due) return;

  const set: SQL[] = [sql`last_sync_at = now()`, sql`last_used_at = now()`];
  if (handedOut) set.push(...growKey('handed_out', handedOut));
  if (confirmed) set.push(...growKey('confirmed', confirmed));
  if (deletionsConfirmed !== undefined) {
    set.push(sql`deletions_confirmed_us = greatest(deletions_confirmed_us, ${deletionsConfirmed.toString()}::bigint)`);
  }
  if (seen.deletionsReflectedAt !== undefined) {
    set.push(sql`deletions_reflected_at = greatest(deletions_reflected_at, ${seen.deletionsReflectedAt}::timestamptz)`);
  }
  await db.execute(sql`UPDATE credentials SET ${sql.join(set, sql`, `)} WHERE id = ${copy.id}`);
}

/** Whether `key` is past the stored (us, id); ids compare bytewise, as the cursor orders them. */
function exceeds(key: DeliveryKey, us: bigint | null, id: string | null): boolean {
  if (us === null) return true;
  if (key.us !== us) return key.us > us;
  return Buffer.compare(Buffer.from(key.id, 'utf8'), Buffer.from(id ?? '', 'utf8')) > 0;
}

/** SET items that move the stored key `<name>_us, <name>_id` to `key` only if it is larger. */
function growKey(name: 'handed_out' | 'confirmed', key: DeliveryKey): SQL[] {
  const us = sql.raw(`${name}_us`);
  const id = sql.raw(`${name}_id`);
  const grows = sql`(${us} IS NULL OR (${key.us.toString()}::bigint, ${key.id}::text COLLATE "C") > (${us}, ${id} COLLATE "C"))`;
  return [sql`${us} = CASE WHEN ${grows} THEN ${key.us.toString()}::bigint ELSE ${us} END`, sql`${id} = CASE WHEN ${grows} THEN ${key.id} ELSE ${id} END`];
}
