import type { Db } from '../db/client.js';
import type { Credential, Tenant } from '../db/schema.js';
import { claimDeletionResync } from '../tenants/credentials.js';
import { recordSync, type CopyRecord } from '../tenants/delivery-record.js';
import { CursorCodec, MIN_KEY, maxKey, microsToTimestamp, type Key, type RunState } from './cursor.js';
import { readPage } from './page-query.js';
import type { ReadAhead, ReadAheadOutcome } from './read-ahead.js';

export interface SyncRequestMeta {
  synchronization_checkpoint?: string | null | undefined;
  offset?: string | null | undefined;
}

export interface SyncPageAnswer {
  /** The page's contacts, serialized (UTF-8): the inside of the response's `contacts` array. */
  contactsJson: Buffer;
  /** How many contacts contactsJson holds. */
  count: number;
  next_offset?: string;
  synchronization_checkpoint?: string;
  /** For metrics and logs: which of the protocol's runs this page belongs to. */
  kind: 'initial' | 'incremental';
  /** For logs: the page's number in its run (1 = first); unknown for offsets issued before numbering. */
  page?: number;
  /** For metrics, on pages asked for with an offset while reading ahead: whether this page had been read ahead. */
  readAhead?: ReadAheadOutcome;
}

export interface SyncPageOptions {
  pageSize: number;
  deletionResyncSeconds: number;
  /** Reads each run's next page while this one is sent (read-ahead.ts); absent: every page is read on request. */
  readAhead?: ReadAhead;
}

/**
 * One page of a Talkdesk sync run for one tenant (the four situations of the protocol).
 *
 * Checkpoints: each page's checkpoint is the largest key the run has passed, never less than the
 * key it started from. On the last page that includes the tombstones beyond the last contact:
 * they were read in the same snapshot and the run has passed them.
 *
 * Deletions: Talkdesk has no delete verb, but a run without a checkpoint replaces its copy. A full
 * run remembers (in its signed offset) the newest key when it began; when its last page is served,
 * every tombstone up to that key is reflected in that Talkdesk copy, and its credential records
 * it (each credential is one copy: another account's full run says nothing of this one). An
 * incremental run that finds tombstones past that record withholds its checkpoint on every page
 * (decided on its first page, carried in the offset), so the next run is a full one; at most once
 * per DELETION_RESYNC_SECONDS, and tombstones in between stay pending because the record, not the
 * checkpoint, is what says they are unreflected.
 */
export async function syncPage(
  db: Db,
  codec: CursorCodec,
  tenant: Tenant,
  copy: CopyRecord & Pick<Credential, 'deletionsReflectedAt'>,
  meta: SyncRequestMeta,
  options: SyncPageOptions,
): Promise<SyncPageAnswer> {
  // null is read as absent; anything else, the empty string included, must decode or is a 400.
  const checkpoint = isGiven(meta.synchronization_checkpoint)
    ? codec.decodeCheckpoint(tenant.id, meta.synchronization_checkpoint)
    : undefined;
  const offset = isGiven(meta.offset) ? codec.decodeOffset(tenant.id, meta.offset) : undefined;

  const incremental = checkpoint !== undefined;
  const start: Key = offset?.key ?? checkpoint ?? MIN_KEY;
  // The first page of an incremental run also asks whether deletions await a full run.
  const firstOfIncremental = incremental && !offset;
  const ahead = offset && options.readAhead ? await options.readAhead.take(tenant.id, start, options.pageSize) : undefined;
  const page = ahead ?? (await readPage(db, tenant.id, start, options.pageSize, firstOfIncremental ? { tombstonesAfter: copy.deletionsReflectedAt } : {}));

  let state: RunState;
  if (offset) {
    state = offset.state;
  } else if (incremental) {
    state = { withhold: page.tombstonesPending === true && (await claimDeletionResync(db, copy.id, options.deletionResyncSeconds)) };
  } else {
    state = page.newest ? { horizonUs: page.newest.us } : {};
  }

  const hasMore = page.hasMore;
  let passed = page.last ? maxKey(start, page.last) : start;
  if (!hasMore && page.newest) passed = maxKey(passed, page.newest);
  // The next page starts at `passed`, as its offset will say; no first-page question rides on it.
  if (hasMore) options.readAhead?.start(tenant.id, passed, options.pageSize, () => readPage(db, tenant.id, passed, options.pageSize));

  // A full run's last page reflects the deletions up to the run's start; its checkpoint carries
  // that start, and so do the incremental checkpoints that follow from it, so that whichever of
  // them Talkdesk sends back proves the full run reached its copy.
  const fullRunEnds = !hasMore && !incremental && state.horizonUs !== undefined;
  const horizonUs = fullRunEnds ? state.horizonUs : checkpoint?.horizonUs;
  await recordSync(db, copy, {
    handedOut: passed,
    ...(checkpoint ? { confirmed: checkpoint } : {}),
    ...(checkpoint?.horizonUs !== undefined ? { deletionsConfirmedUs: checkpoint.horizonUs } : {}),
    ...(fullRunEnds ? { deletionsReflectedAt: microsToTimestamp(state.horizonUs!) } : {}),
    runEnded: !hasMore,
  });

  const pageNumber = offset ? offset.state.page : 1;
  const answer: SyncPageAnswer = { contactsJson: page.json, count: page.count, kind: incremental ? 'incremental' : 'initial', page: pageNumber };
  if (offset && options.readAhead) answer.readAhead = ahead ? 'hit' : 'miss';
  const nextState = pageNumber === undefined ? state : { ...state, page: pageNumber + 1 };
  if (hasMore) answer.next_offset = codec.encodeOffset(tenant.id, passed, nextState);
  // Until the first backfill is complete the mirror is partial: no checkpoint, so the next run is
  // full again and nothing the backfill has yet to bring can fall behind a checkpoint.
  if (tenant.backfillCompletedAt !== null && !state.withhold) {
    answer.synchronization_checkpoint = codec.encodeCheckpoint(tenant.id, passed, horizonUs);
  }
  return answer;
}

const isGiven = (v: string | null | undefined): v is string => v !== undefined && v !== null;
