import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Db } from '../src/db/client.js';
import type { Tenant } from '../src/db/schema.js';
import type { Connector, ConnectorAccount, ConnectorPage } from '../src/crm/connector.js';
import type { ConnectorRegistry } from '../src/crm/registry.js';
import { CrmRateLimitedError, CrmTokenExpiredError, CrmUnauthorizedError } from '../src/crm/errors.js';
import { writeContacts, type WriteCounts } from '../src/mirror/writer.js';
import type { WriteSource } from '../src/mirror/history.js';
import { workingCredentials } from '../src/tenants/credentials.js';
import { ensureIngestState, recordBudget, recordRun, saveCursor, type CursorName } from '../src/tenants/ingest-state.js';
import { completeBackfill, connectionRefused, credentialExpired, credentialFailed, isIngesting, overQuota, whyNotIngesting } from '../src/tenants/lifecycle.js';
import { isConnectionMarker } from '../src/tenants/connection-keys.js';
import { connectionAccessToken, ConnectionRefusedError, NoConnectionError, type TokenRefresher } from '../src/tenants/oauth-connections.js';
import { liveContacts } from '../src/tenants/figures.js';
import type { BridgeKeys } from '../src/tenants/keys.js';
import type { Metrics } from '../src/metrics/registry.js';
import { finishResync, rememberSeen } from '../src/tenants/resync.js';
import { finishSweep, recordSweepPage, startSweep, SweepAbandonedError, type SweepCursor } from '../src/tenants/deletion-sweep.js';
import { getTenant } from '../src/tenants/repository.js';
import type { IngestScheduler } from '../src/ingest/scheduler.js';
import type { IngestJob, IngestKind, IngestResult } from '../src/ingest/queue.js';

export interface IngestDeps {
  db: Db;
  pool: pg.Pool;
  keys: BridgeKeys;
  /** The enabled connectors; a tenant is ingested by its own CRM's. */
  connectors: ConnectorRegistry;
  control: Pick<IngestScheduler, 'deactivate'>;
  log: Logger;
  /** True once the process is shutting down: the job stops after its current page. */
  closing: () => boolean;
  now?: () => number;
  metrics?: Metrics;
  /** MAX_CONTACTS_PER_TENANT: a tenant past this many live contacts is paused (0: no quota). */
  maxContacts?: number;
  /** MAX_CONCURRENT_BACKFILLS: backfills running at once across every process. */
  backfillSlots?: number;
  /** Refreshes OAuth connections' tokens (the HubSpot app); absent without HUBSPOT_CLIENT_ID. */
  connections?: TokenRefresher;
  /** Called for each refresh this process makes. */
  onTokenRefresh?: () => void;
}

/** The credential a pass reads the CRM with, and, for a connection key, the access token it used. */
interface UsedCredential {
  credentialId?: string;
  /** The pass read the CRM with the tenant's OAuth connection. */
  connection?: boolean;
  token?: string;
  /** The access token the CRM reported expired: the next pass refreshes past it. */
  expired?: string;
}

/** Passes of one job with an OAuth connection whose token the CRM reports expired (each refreshes it first). */
const MAX_PASSES = 3;

/** Advisory-lock namespace of ingest jobs (the first key of pg_try_advisory_lock(int, int)). */
export const INGEST_LOCK = 0x1c6e;
/** Advisory-lock namespace of backfill slots: slot i is pg_try_advisory_lock(BACKFILL_SLOT_LOCK, i). */
export const BACKFILL_SLOT_LOCK = 0x1c6f;
const BUSY_RETRY_MS = 5_000;
// A job moved back to delayed must not be picked up again before this processing has ended:
// the same job id active twice in one worker confuses BullMQ's lock renewal (the lock of the
// second run stops being extended, and the job stalls). Never delay by less than this.
const MIN_DELAY_MS = 1_000;
const delayUntil = (ms: number) => Date.now() + Math.max(MIN_DELAY_MS, ms);

/** The part of a BullMQ job the processor uses, so tests can drive it without Redis. */
export type IngestJobHandle = Pick<Job<IngestJob, IngestResult>, 'data' | 'moveToDelayed' | 'updateProgress'>;

/**
 * One ingest job of one tenant: a backfill, an incremental pass or a deletion scan. Every page
 * is one transaction through the mirror writer that also stores the connector's cursor, so a
 * process killed anywhere resumes from the last committed page with nothing lost or counted
 * twice. A per-tenant advisory lock backs up BullMQ's deduplication: two processes never
 * ingest one tenant at once.
 */
export async function processIngest(job: IngestJobHandle, token: string | undefined, deps: IngestDeps): Promise<IngestResult> {
  const { kind, tenantId } = job.data as { kind: IngestKind; tenantId: string };
  const result: IngestResult = { kind, pages: 0, inserted: 0, updated: 0, unchanged: 0, deleted: 0 };
  const tenant = await getTenant(deps.db, tenantId);
  if (!isIngesting(tenant)) return { ...result, skipped: whyNotIngesting(tenant) };
  // A CRM this process does not enable is another process's to ingest.
  const connector = deps.connectors.get(tenant.crm);
  if (!connector) return { ...result, skipped: `no ${tenant.crm} connector in this process` };

  const lock = await deps.pool.connect();
  let locked = false;
  // The credential the pass reads the CRM with: the tenant's newest that works.
  const used: UsedCredential = {};
  try {
    const res = await lock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [INGEST_LOCK, tenantId]);
    locked = res.rows[0]!.ok;
    if (!locked) {
      // Another process holds this tenant: come back later rather than wait on a connection.
      await job.moveToDelayed(delayUntil(BUSY_RETRY_MS), token);
      throw new DelayedError();
    }
    for (let pass = 1, current: Tenant = tenant; ; pass++) {
      try {
        await runPass(job, token, deps, connector, current, kind, result, used, lock);
        break;
      } catch (err) {
        if (used.connection && err instanceof CrmUnauthorizedError) {
          // The connection's token expired before its refresh was due (a clock apart, a long
          // pass), or was revoked: refreshed now, once. An uninstalled app's refresh is refused,
          // which says to reconnect.
          if (pass >= MAX_PASSES || used.expired === used.token) throw err;
          used.expired = used.token;
        } else if (err instanceof CrmTokenExpiredError) {
          // A Talkdesk-managed token expired: expected. The next working credential carries on,
          // or the tenant waits for Talkdesk's next token (token_expired), not an alarm.
          const working = await credentialExpired(deps.db, deps.control, tenantId, used.credentialId!);
          deps.log.info({ tenantId, working }, 'a Talkdesk-managed OAuth token expired; set aside');
          if (working === 0) return { ...result, skipped: 'token_expired' };
        } else {
          throw err;
        }
        const now = await getTenant(deps.db, tenantId);
        if (!isIngesting(now)) return { ...result, skipped: whyNotIngesting(now) };
        current = now;
      }
    }
    await recordRun(deps.db, tenantId, { success: true, reconciled: kind === 'reconcile' });
    return result;
  } catch (err) {
    if (err instanceof DelayedError) throw err;
    if (err instanceof CrmRateLimitedError) {
      // Only this tenant waits: its job is delayed, the queue keeps serving the others.
      deps.log.info({ tenantId, waitMs: err.retryAfterMs }, 'CRM rate limit; delaying this tenant');
      deps.metrics?.countCrmDelay(Math.max(MIN_DELAY_MS, err.retryAfterMs));
      await job.moveToDelayed(delayUntil(err.retryAfterMs), token);
      throw new DelayedError();
    }
    if (err instanceof ConnectionRefusedError || err instanceof NoConnectionError) {
      // Every connection key of the tenant stands on this connection: they all stop, with the
      // reason (reconnect at /connect/hubspot), and another credential carries on if there is one.
      const working = await connectionRefused(deps.db, deps.keys, deps.control, tenant, err.message);
      if (working > 0) throw new Error(`OAuth connection refused; ${working} other credential(s) to try`, { cause: err });
      throw new UnrecoverableError(err.message);
    }
    if (err instanceof CrmUnauthorizedError || err instanceof NoWorkingCredentialError) {
      // Retrying cannot fix a refused credential: it is set aside and the next attempt uses the
      // tenant's next working one; with none left, scheduling stops and the mirror stays.
      const working = await credentialFailed(deps.db, deps.control, tenantId, used.credentialId, err.message);
      if (working > 0) {
        await recordRun(deps.db, tenantId, { error: `a credential was refused (${working} still working): ${err.message}` }).catch(() => {});
        throw new Error(`credential refused; ${working} other credential(s) to try`, { cause: err });
      }
      throw new UnrecoverableError(err.message);
    }
    await recordRun(deps.db, tenantId, { error: (err as Error).message }).catch(() => {});
    throw err;
  } finally {
    // The tenant's lock, and the backfill slot if the pass took one: every lock of this session.
    if (locked) await lock.query('SELECT pg_advisory_unlock_all()').catch(() => {});
    lock.release();
    if (locked) await noteDailyBudget(deps, connector, tenant);
  }
}

/** What the pass learned of the account's daily budget: the metric, and the status page's record. */
async function noteDailyBudget(deps: IngestDeps, connector: Connector, tenant: Tenant): Promise<void> {
  const budget = connector.dailyBudget?.(tenant.crmAccountId ?? '');
  if (!budget) return;
  deps.metrics?.crmBudgetRemaining.set({ tenant: tenant.id }, budget.left);
  await recordBudget(deps.db, tenant.id, budget).catch((err: Error) => deps.log.warn({ tenantId: tenant.id, err: err.message }, 'could not record the daily budget'));
}

async function runPass(
  job: IngestJobHandle,
  token: string | undefined,
  deps: IngestDeps,
  connector: Connector,
  tenant: Tenant,
  kind: IngestKind,
  result: IngestResult,
  used: UsedCredential,
  session: pg.PoolClient,
): Promise<void> {
  const now = deps.now ?? Date.now;
  const state = await ensureIngestState(deps.db, tenant.id);
  const cursors = state.sourceCursor as Partial<Record<CursorName, unknown>>;
  const [newest] = await workingCredentials(deps.db, deps.keys, tenant);
  if (!newest) throw new NoWorkingCredentialError('no working credential left for this tenant');
  used.credentialId = newest.credential.id;
  used.connection = isConnectionMarker(newest.auth);
  let auth = newest.auth;
  if (used.connection) {
    if (!deps.connections) throw new Error('this tenant connected through OAuth; its workers need HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and PUBLIC_URL');
    used.token = await connectionAccessToken(deps.db, deps.keys, deps.connections, tenant, { expired: used.expired, onRefresh: deps.onTokenRefresh });
    auth = { access_token: used.token };
  }
  const account = { accountId: tenant.crmAccountId ?? '', auth };

  // A tenant without a complete backfill, or with a resync requested, needs a backfill first.
  const resync = cursors.resync !== undefined && tenant.backfillCompletedAt !== null;
  const passKind: IngestKind = tenant.backfillCompletedAt === null || resync ? 'backfill' : kind;
  const cursorName: CursorName = passKind === 'backfill' ? 'backfill' : passKind === 'incremental' ? 'changes' : 'deletions';
  // A backfill reads a whole CRM account: only MAX_CONCURRENT_BACKFILLS run at once, across
  // every process (a slot is a session advisory lock on the job's own connection, released with it).
  if (passKind === 'backfill' && !(await takeBackfillSlot(session, deps.backfillSlots ?? 4))) {
    await job.moveToDelayed(delayUntil(BUSY_RETRY_MS), token);
    throw new DelayedError();
  }
  const quota = deps.maxContacts ?? 0;
  let live = quota > 0 ? await liveContacts(deps.db, tenant.id) : 0;
  let pages: AsyncIterable<ConnectorPage>;
  if (passKind === 'backfill') {
    // Changes made while the backfill runs are picked up by the first incremental pass,
    // which starts from the moment the backfill began.
    if (cursors.changes === undefined) {
      await saveCursor(deps.db, tenant.id, 'changes', connector.changesCursorAt(now()));
    }
    pages = connector.backfill(account, cursors.backfill);
  } else if (passKind === 'incremental') {
    pages = connector.changes(account, cursors.changes);
  } else if (cursors.sweep !== undefined) {
    // A reconcile whose sweep was cut short: the deletions scan before it has completed.
    pages = noPages();
  } else {
    pages = connector.deletions(account, cursors.deletions);
  }
  // While a deletion sweep is under way, a contact the CRM reports live is seen by it too: one
  // restored after the listing passed its id may have been rewritten unchanged, keeping an old key.
  const sweeping = cursors.sweep !== undefined && !resync;

  const source: WriteSource = resync ? 'resync' : passKind === 'backfill' ? 'backfill' : passKind === 'incremental' ? 'poll' : 'sweep';

  // The next page is fetched while this one is written: a CRM-bound pass then runs at the pace
  // of the CRM's rate limit, not of (request + write) one after the other. Only committed
  // pages move the durable cursor, so a prefetched page that is never written is simply read again.
  const iterator = pages[Symbol.asyncIterator]();
  let next = iterator.next();
  try {
    for (;;) {
      const step = await next;
      if (step.done) break;
      const page = step.value;
      next = iterator.next();
      next.catch(() => {}); // observed when awaited; never an unhandled rejection meanwhile
      const counts: WriteCounts = await writeContacts(deps.db, tenant.id, page.changes, source, async (tx) => {
        const backfill = passKind === 'backfill' ? { contacts: page.changes.length, total: page.total } : undefined;
        await saveCursor(tx, tenant.id, cursorName, page.cursor, backfill);
        if (resync) await rememberSeen(tx, tenant.id, page.changes.map((c) => c.id));
        else if (sweeping) await rememberSeen(tx, tenant.id, page.changes.filter((c) => !('deleted' in c && c.deleted)).map((c) => c.id));
      });
      deps.metrics?.countIngestPage(counts);
      result.pages++;
      result.inserted += counts.inserted;
      result.updated += counts.updated;
      result.unchanged += counts.unchanged;
      result.deleted += counts.deleted;
      await job.updateProgress({ pages: result.pages, contacts: result.inserted + result.updated + result.unchanged + result.deleted });
      live += counts.inserted - counts.deleted;
      if (quota > 0 && live > quota) {
        await overQuota(deps.db, deps.control, tenant.id, `over its contact quota: ${live} live contacts, MAX_CONTACTS_PER_TENANT=${quota}`);
        return;
      }
      // Paused, deleted or refused while the pass ran: stop here; the cursor is committed.
      if (!isIngesting(await getTenant(deps.db, tenant.id))) return;
      if (deps.closing()) {
        // Shutting down: hand the job back; whichever worker is up next continues from the
        // cursor just committed.
        await job.moveToDelayed(delayUntil(0), token);
        throw new DelayedError();
      }
    }
  } finally {
    await iterator.return?.(undefined).catch(() => {});
  }

  if (resync) {
    result.deleted += await finishResync(deps.db, tenant.id);
  } else if (passKind === 'backfill') {
    await deps.db.transaction(async (tx) => {
      await completeBackfill(tx, tenant.id);
      await saveCursor(tx, tenant.id, 'backfill', undefined);
    });
  } else if (passKind === 'reconcile') {
    await saveCursor(deps.db, tenant.id, 'deletions', undefined);
    if (connector.liveIds) await runSweep(job, token, deps, connector, tenant.id, account, cursors.sweep as SweepCursor | undefined, result);
  }
}

/**
 * The deletion sweep of a reconcile (tenants/deletion-sweep.ts), after the CRM's own deletions
 * scan: lists every live id, each page's ids and cursor committed together, and tombstones the
 * mirrored ids it did not see only once the listing has reached its end. An error, a 429 or a
 * shutdown leaves the sweep where its last page put it, having tombstoned nothing; the next
 * reconcile resumes it.
 */
async function runSweep(
  job: IngestJobHandle,
  token: string | undefined,
  deps: IngestDeps,
  connector: Connector,
  tenantId: string,
  account: ConnectorAccount,
  stored: SweepCursor | undefined,
  result: IngestResult,
): Promise<void> {
  let sweep = stored ?? (await startSweep(deps.db, tenantId));
  try {
    if (!sweep.listed) {
      for await (const page of connector.liveIds!(account, sweep.listing)) {
        const { id, startedAt } = sweep;
        sweep = page.done ? { id, startedAt, listed: true } : { id, startedAt, listing: page.cursor };
        const next = sweep;
        await deps.db.transaction((tx) => recordSweepPage(tx, tenantId, page.ids, next));
        result.pages++;
        if (page.done) break;
        if (!isIngesting(await getTenant(deps.db, tenantId))) return;
        if (deps.closing()) {
          await job.moveToDelayed(delayUntil(0), token);
          throw new DelayedError();
        }
      }
    }
    // A listing that ended without saying so (a connector's bug) is not a complete one.
    if (!sweep.listed) return;
    result.deleted += await finishSweep(deps.db, tenantId, sweep);
  } catch (err) {
    if (!(err instanceof SweepAbandonedError)) throw err;
    deps.log.info({ tenantId }, 'deletion sweep dropped while it ran (a resync was requested); it tombstoned nothing more');
  }
}

// eslint-disable-next-line require-yield
async function* noPages(): AsyncIterable<ConnectorPage> {
  return;
}

/** Takes one of the backfill slots on this session, or none when all are taken. */
async function takeBackfillSlot(session: pg.PoolClient, slots: number): Promise<boolean> {
  for (let slot = 0; slot < slots; slot++) {
    const { rows } = await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [BACKFILL_SLOT_LOCK, slot]);
    if (rows[0]!.ok) return true;
  }
  return false;
}

/** The tenant has no credential that works (all refused or revoked). */
class NoWorkingCredentialError extends Error {
  override name = 'NoWorkingCredentialError';
}
