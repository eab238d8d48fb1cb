import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db, Executor } from '../src/db/client.js';
import type { ConnectorRegistry } from '../src/crm/registry.js';
import { CrmRateLimitedError, CrmUnauthorizedError } from '../src/crm/errors.js';
import type { Metrics } from '../src/metrics/registry.js';
import { writeContacts } from '../src/mirror/writer.js';
import { workingCredentials } from '../src/tenants/credentials.js';
import type { BridgeKeys } from '../src/tenants/keys.js';
import { isIngesting, whyNotIngesting } from '../src/tenants/lifecycle.js';
import { getTenant } from '../src/tenants/repository.js';
import type { WebhookJob, WebhookResult } from '../src/webhooks/queue.js';
import { INGEST_LOCK } from './ingest.js';

export interface WebhookDeps {
  db: Db;
  keys: BridgeKeys;
  connectors: ConnectorRegistry;
  log: Logger;
  metrics?: Metrics;
}

/** The part of a BullMQ job the processor uses, so tests can drive it without Redis. */
export type WebhookJobHandle = Pick<Job<WebhookJob, WebhookResult>, 'data' | 'moveToDelayed'>;

/** How long a webhook job waits while an ingest pass holds its tenant. */
const BUSY_RETRY_MS = 1_000;

/** An ingest pass holds the tenant: the job comes back after it. */
class TenantBusyError extends Error {
  override name = 'TenantBusyError';
}

/**
 * One delivery's events of one tenant: the tenant's connector reads the current state of what
 * they name, and the mirror writer stores it with source 'webhook'. The writer keeps the newer
 * of two versions (by the CRM's modification time), so a late, repeated or reordered delivery
 * changes nothing it should not.
 *
 * The write happens under the tenant's ingest lock, as an ingest page's does: a resync or a
 * deletion sweep decides what to tombstone from the ids its own pages saw, and a contact written
 * beside it by a webhook would be one it never saw. The lock is taken at transaction level inside
 * the writer's transaction, never waited for: when a pass holds it the write is rolled back and
 * the job delayed (it is checked before the CRM is read too, so a long pass costs no reads).
 */
export async function processWebhook(job: WebhookJobHandle, token: string | undefined, deps: WebhookDeps): Promise<WebhookResult> {
  const { tenantId, events } = job.data;
  const result: WebhookResult = { events: events.length, inserted: 0, updated: 0, unchanged: 0, deleted: 0 };
  const tenant = await getTenant(deps.db, tenantId);
  if (!isIngesting(tenant)) return { ...result, skipped: whyNotIngesting(tenant) };
  const connector = deps.connectors.get(tenant.crm);
  if (!connector) return { ...result, skipped: `no ${tenant.crm} connector in this process` };
  if (!connector.webhookChanges) return { ...result, skipped: `the ${tenant.crm} connector takes no webhooks` };
  const [newest] = await workingCredentials(deps.db, deps.keys, tenant);
  // Ingest marks the tenant when its credentials fail; its events wait for the poll after a fix.
  if (!newest) return { ...result, skipped: 'no working credential' };
  const account = { accountId: tenant.crmAccountId ?? '', auth: newest.auth };
  try {
    if (!(await deps.db.transaction((tx) => tryTenantLock(tx, tenantId)))) throw new TenantBusyError();
    const changes = await connector.webhookChanges(account, events);
    const counts = await writeContacts(deps.db, tenantId, changes, 'webhook', async (tx) => {
      if (!(await tryTenantLock(tx, tenantId))) throw new TenantBusyError();
    });
    deps.metrics?.countIngestPage(counts);
    return { ...result, ...counts };
  } catch (err) {
    if (err instanceof TenantBusyError) {
      await job.moveToDelayed(Date.now() + BUSY_RETRY_MS, token);
      throw new DelayedError();
    }
    if (err instanceof CrmRateLimitedError) {
      deps.metrics?.countCrmDelay(Math.max(BUSY_RETRY_MS, err.retryAfterMs));
      await job.moveToDelayed(Date.now() + Math.max(BUSY_RETRY_MS, err.retryAfterMs), token);
      throw new DelayedError();
    }
    // Retrying cannot fix refused credentials; the next ingest pass marks them.
    if (err instanceof CrmUnauthorizedError) throw new UnrecoverableError(err.message);
    throw err;
  }
}

/** The tenant's ingest lock (workers/ingest.ts) for the rest of this transaction, if no pass holds it. */
async function tryTenantLock(tx: Executor, tenantId: string): Promise<boolean> {
  const { rows } = await tx.execute<{ ok: boolean }>(sql`SELECT pg_try_advisory_xact_lock(${INGEST_LOCK}, hashtext(${tenantId})) AS ok`);
  return rows[0]!.ok;
}
