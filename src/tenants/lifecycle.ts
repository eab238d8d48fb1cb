import { eq, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { tenants, type Tenant, type TenantStatus } from '../db/schema.js';
import { authDigest } from './auth-digest.js';
import { encryptCredentials } from './credential-cipher.js';
import { DuplicateCredentialsError, NothingToResyncError, TenantNotFoundError } from './errors.js';
import { ensureIngestState, recordRun } from './ingest-state.js';
import type { BridgeKeys } from './keys.js';
import { getTenant } from './repository.js';
import { requestResync } from './resync.js';

/**
 * A tenant's lifecycle: every statement that moves its status, and what each move asks of ingest.
 *
 *   (credentials verified) → backfilling → active     (its first backfill complete)
 *   any → paused → backfilling | active               (an operator pauses, resumes)
 *   any → credentials_failed → backfilling | active   (the CRM's 401; credentials that verify again)
 *
 * A tenant fed through the admin API (crm 'push') is created active with a complete backfill and
 * is never ingested. A resync leaves the status alone: it is a fresh backfill in the ingest state.
 */

/** The `crm` of tenants fed through the admin API: they have no CRM to read. */
export const PUSH_CRM = 'push';

const INGESTING_STATUSES: readonly TenantStatus[] = ['backfilling', 'active'];

/**
 * What the lifecycle steers: the API's IngestControl (which logs and carries on when Redis is
 * away) or, in the workers, the IngestScheduler.
 */
export interface IngestSchedule {
  activate(tenantId: string): Promise<void>;
  deactivate(tenantId: string): Promise<void>;
}

/**
 * Why the workers leave this tenant alone (deleted, pushed, paused, credentials failed), or
 * undefined when they ingest it: the one definition of "ingesting".
 */
export function whyNotIngesting(tenant: Pick<Tenant, 'status' | 'crm'> | undefined): string | undefined {
  if (!tenant) return 'tenant deleted';
  if (tenant.crm === PUSH_CRM) return 'fed through the admin API';
  return INGESTING_STATUSES.includes(tenant.status) ? undefined : tenant.status;
}

export function isIngesting<T extends Pick<Tenant, 'status' | 'crm'>>(tenant: T | undefined): tenant is T {
  return whyNotIngesting(tenant) === undefined;
}

/** The tenants that should have an ingest schedule (what the workers reconcile the schedules with). */
export async function tenantsToIngest(db: Executor): Promise<string[]> {
  // Filtered here rather than in SQL so that "ingesting" keeps its one definition; the table is
  // read whole either way (no index on status), a few bytes a tenant.
  const rows = await db.select({ id: tenants.id, status: tenants.status, crm: tenants.crm }).from(tenants);
  return rows.filter((t) => isIngesting(t)).map((t) => t.id);
}

/** Where a tenant goes when it may ingest again: active once its first backfill is complete. */
const backToWork = sql`CASE WHEN ${tenants.backfillCompletedAt} IS NULL THEN 'backfilling' ELSE 'active' END`;

export interface VerifiedCredentials {
  /** The connector's kind. */
  crm: string;
  /** The CRM's own account id: a rotated token maps to the same tenant. */
  accountId: string;
  name: string;
  auth: Record<string, unknown>;
}

/**
 * Credentials the CRM just verified, in one statement: a new account becomes a tenant
 * (backfilling); a known account takes the new credentials, and goes back to work if its
 * credentials had failed. `rename` gives an existing tenant the name too (operator
 * registration). Then its ingest is scheduled, a backfill first when it has none.
 */
export async function credentialsVerified(
  db: Executor,
  keys: BridgeKeys,
  ingest: Pick<IngestSchedule, 'activate'> | null | undefined,
  verified: VerifiedCredentials,
  { rename = false }: { rename?: boolean } = {},
): Promise<Tenant> {
  const digest = authDigest(keys.authDigest, verified.auth);
  const [upserted] = await db
    .insert(tenants)
    .values({
      name: verified.name,
      crm: verified.crm,
      crmAccountId: verified.accountId,
      authDigest: digest,
      credentials: encryptCredentials(keys, verified.auth),
      status: 'backfilling',
    })
    .onConflictDoUpdate({
      target: [tenants.crm, tenants.crmAccountId],
      set: {
        authDigest: digest,
        credentials: sql`excluded.credentials`,
        name: rename ? sql`excluded.name` : sql`${tenants.name}`,
        status: sql`CASE WHEN ${tenants.status} = 'credentials_failed' THEN ${backToWork} ELSE ${tenants.status} END`,
        updatedAt: sql`now()`,
      },
    })
    .returning()
    .catch((err: { code?: string; constraint?: string }) => {
      // The same auth object already registered for another tenant (a pushed one).
      if (err.code === '23505' && err.constraint === 'tenants_auth_digest_key') throw new DuplicateCredentialsError();
      throw err;
    });
  const tenant = upserted!;
  if (isIngesting(tenant)) await ingest?.activate(tenant.id);
  return tenant;
}

/** The first backfill is complete: syncs get checkpoints from now on. Call in the pass's last transaction. */
export async function completeBackfill(db: Executor, tenantId: string): Promise<void> {
  await db
    .update(tenants)
    .set({
      backfillCompletedAt: sql`now()`,
      status: sql`CASE WHEN ${tenants.status} = 'backfilling' THEN 'active' ELSE ${tenants.status} END`,
      updatedAt: sql`now()`,
    })
    .where(eq(tenants.id, tenantId));
}

/** An operator stops ingesting the tenant; its mirror keeps being served. */
export async function pauseTenant(db: Executor, ingest: IngestSchedule | null | undefined, tenantId: string): Promise<TenantStatus> {
  const [row] = await db
    .update(tenants)
    .set({ status: 'paused', updatedAt: sql`now()` })
    .where(eq(tenants.id, tenantId))
    .returning({ status: tenants.status });
  if (!row) throw new TenantNotFoundError(tenantId);
  // A running pass stops after its current page (it checks the status between pages).
  await ingest?.deactivate(tenantId);
  return row.status;
}

/** An operator resumes a paused tenant; any other status is left as it is. */
export async function resumeTenant(db: Executor, ingest: IngestSchedule | null | undefined, tenantId: string): Promise<TenantStatus> {
  const [row] = await db
    .update(tenants)
    .set({ status: sql`CASE WHEN ${tenants.status} = 'paused' THEN ${backToWork} ELSE ${tenants.status} END`, updatedAt: sql`now()` })
    .where(eq(tenants.id, tenantId))
    .returning({ status: tenants.status, crm: tenants.crm });
  if (!row) throw new TenantNotFoundError(tenantId);
  if (isIngesting(row)) await ingest?.activate(tenantId);
  return row.status;
}

/**
 * The CRM refused the tenant's credentials: retrying cannot help, so ingest stops (the mirror
 * stays) until credentials that verify arrive (credentialsVerified).
 */
export async function credentialsFailed(
  db: Executor,
  ingest: Pick<IngestSchedule, 'deactivate'>,
  tenantId: string,
  message: string,
): Promise<void> {
  await db.update(tenants).set({ status: 'credentials_failed', updatedAt: sql`now()` }).where(eq(tenants.id, tenantId));
  await recordRun(db, tenantId, { error: message });
  // Without Redis the schedule stays; its next tick finds the status and removes it.
  await ingest.deactivate(tenantId).catch(() => {});
}

/**
 * An operator asks for a fresh backfill of a CRM tenant (resync.ts). Its status does not change;
 * a tenant that is ingesting gets a pass now.
 */
export async function resyncTenant(db: Executor, ingest: IngestSchedule | null | undefined, tenantId: string): Promise<TenantStatus> {
  const tenant = await getTenant(db, tenantId);
  if (!tenant) throw new TenantNotFoundError(tenantId);
  if (tenant.crm === PUSH_CRM) throw new NothingToResyncError();
  await ensureIngestState(db, tenantId);
  await requestResync(db, tenantId);
  if (isIngesting(tenant)) await ingest?.activate(tenantId);
  return tenant.status;
}
