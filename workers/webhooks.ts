import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type pg from 'pg';
import type { Db } from '../src/db/client.js';
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
  pool: pg.Pool;
  keys: BridgeKeys;
  connectors: ConnectorRegistry;
  log: Logger;
  metrics?: Metrics;
}

/** The part of a BullMQ job the processor uses, so tests can drive it without Redis. */
export type WebhookJobHandle = Pick<Job<WebhookJob, WebhookResult>, 'data' | 'moveToDelayed'>;

/** How long a webhook job waits while an ingest pass (or another delivery) holds its tenant. */
const BUSY_RETRY_MS = 1_000;

/**
 * One delivery's events of one tenant: the tenant's connector reads the current state of what
 * they name, and the mirror writer stores it with source 'webhook'. The writer keeps the newer
 * of two versions (by the CRM's modification time), so a late or repeated delivery changes
 * nothing it should not.
 *
 * Read and write happen under the tenant's ingest lock (workers/ingest.ts), never waited for:
 * while a pass or another delivery holds the tenant the job comes back shortly. So a read is
 * never written after a later read of the same records (a tombstone a deletion's read found
 * would otherwise be revived by an earlier read written late), and a resync, which tombstones
 * what its own pages did not see, never meets a contact a webhook wrote beside it.
 */
export async function processWebhook(job: WebhookJobHandle, token: string | undefined, deps: WebhookDeps): Promise<WebhookResult> {
  const { tenantId, events } = job.data;
  const result: WebhookResult = { events: events.length, inserted: 0, updated: 0, unchanged: 0, deleted: 0 };
  const tenant = await getTenant(deps.db, tenantId);
  if (!isIngesting(tenant)) return { ...result, skipped: whyNotIngesting(tenant) };
  const connector = deps.connectors.get(tenant.crm);
  if (!connector) return { ...result, skipped: `no ${tenant.crm} connector in this process` };
  if (!connector.webhookChanges) return { ...result, skipped: `the ${tenant.crm} connector takes no webhooks` };

  const lock = await deps.pool.connect();
  let locked = false;
  try {
    const res = await lock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [INGEST_LOCK, tenantId]);
    locked = res.rows[0]!.ok;
    if (!locked) {
      await job.moveToDelayed(Date.now() + BUSY_RETRY_MS, token);
      throw new DelayedError();
    }
    const [newest] = await workingCredentials(deps.db, deps.keys, tenant);
    // Ingest marks the tenant when its credentials fail; its events wait for the poll after a fix.
    if (!newest) return { ...result, skipped: 'no working credential' };
    const account = { accountId: tenant.crmAccountId ?? '', auth: newest.auth };
    const changes = await connector.webhookChanges(account, events);
    const counts = await writeContacts(deps.db, tenantId, changes, 'webhook');
    deps.metrics?.countIngestPage(counts);
    return { ...result, ...counts };
  } catch (err) {
    if (err instanceof CrmRateLimitedError) {
      deps.metrics?.countCrmDelay(Math.max(BUSY_RETRY_MS, err.retryAfterMs));
      await job.moveToDelayed(Date.now() + Math.max(BUSY_RETRY_MS, err.retryAfterMs), token);
      throw new DelayedError();
    }
    // Retrying cannot fix refused credentials; the next ingest pass marks them.
    if (err instanceof CrmUnauthorizedError) throw new UnrecoverableError(err.message);
    throw err;
  } finally {
    if (locked) await lock.query('SELECT pg_advisory_unlock($1, hashtext($2))', [INGEST_LOCK, tenantId]).catch(() => {});
    lock.release();
  }
}
