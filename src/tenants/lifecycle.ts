import { and, eq, sql } from 'drizzle-orm';
import type { Db, Executor } from '../db/client.js';
import { refusedAccounts, tenants, type Credential, type Tenant, type TenantStatus } from '../db/schema.js';
import {
  addCredential,
  connectionKeyIds,
  countWorking,
  credentialVerified,
  deleteCredential,
  markCredentialExpired,
  markCredentialFailed,
  setCredentialsStatus,
} from './credentials.js';
import { NothingToResyncError, TenantNotFoundError } from './errors.js';
import { ensureIngestState, recordRun } from './ingest-state.js';
import type { BridgeKeys } from './keys.js';
import { deleteTenant, getTenant } from './repository.js';
import { requestResync } from './resync.js';

/**
 * A tenant's lifecycle: every statement that moves its status, and what each move asks of ingest.
 *
 *   (credentials verified) → backfilling → active     (its first backfill complete)
 *   (credentials verified, ONBOARDING=approval) → awaiting_approval → backfilling (an operator approves)
 *   any → paused → backfilling | active               (an operator pauses, resumes)
 *   any → credentials_failed → backfilling | active   (none of its credentials works; one verifies again)
 *   any → token_expired → backfilling | active        (its Talkdesk-managed OAuth token expired; Talkdesk sends a fresh one)
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
/** The status of a tenant that just got a credential that works: back to work if it waited for one. */
const withWorkingCredential = sql`CASE WHEN ${tenants.status} IN ('credentials_failed', 'token_expired') THEN ${backToWork} ELSE ${tenants.status} END`;

export interface VerifiedCredentials {
  /** The connector's kind. */
  crm: string;
  /** The CRM's own account id: every credential of one account joins its one tenant. */
  accountId: string;
  name: string;
  auth: Record<string, unknown>;
  /** What the CRM showed the credential may do. */
  allows: string[];
  /** A new account's first status: backfilling, or awaiting_approval (ONBOARDING=approval). */
  initialStatus?: TenantStatus;
  /** Stored in place of `auth` (a connection key's marker). */
  stored?: Record<string, unknown>;
}

/**
 * Credentials the CRM just verified: a new account becomes a tenant (backfilling) with them as its
 * first credential; a known account gets them as one more credential, never in place of another,
 * and goes back to work if none of its credentials worked. `rename` gives an existing tenant the
 * name too (operator registration). Then its ingest is scheduled, a backfill first when it has none.
 */
export async function credentialsVerified(
  db: Executor,
  keys: BridgeKeys,
  ingest: Pick<IngestSchedule, 'activate'> | null | undefined,
  verified: VerifiedCredentials,
  {
    rename = false,
    also,
  }: {
    rename?: boolean;
    /** More to write in the same transaction, once the tenant exists (an OAuth connection's tokens). */
    also?: (tx: Executor, tenant: Tenant) => Promise<void>;
  } = {},
): Promise<{ tenant: Tenant; credential: Credential }> {
  const result = await db.transaction(async (tx) => {
    const [tenant] = await tx
      .insert(tenants)
      .values({ name: verified.name, crm: verified.crm, crmAccountId: verified.accountId, status: verified.initialStatus ?? 'backfilling' })
      .onConflictDoUpdate({
        target: [tenants.crm, tenants.crmAccountId],
        set: {
          name: rename ? sql`excluded.name` : sql`${tenants.name}`,
          status: withWorkingCredential,
          updatedAt: sql`now()`,
        },
      })
      .returning();
    await also?.(tx, tenant!);
    const credential = await addCredential(tx, keys, tenant!, { auth: verified.auth, stored: verified.stored, allows: verified.allows, verified: true });
    return { tenant: tenant!, credential };
  });
  if (isIngesting(result.tenant)) await ingest?.activate(result.tenant.id);
  return result;
}

/** The tenant of this CRM account, if it has one. */
export async function tenantOfAccount(db: Executor, crm: string, accountId: string): Promise<Tenant | undefined> {
  const [tenant] = await db.select().from(tenants).where(and(eq(tenants.crm, crm), eq(tenants.crmAccountId, accountId))).limit(1);
  return tenant;
}

/** Whether an operator deleted this account's tenant (and has not registered the account since). */
export async function isAccountRefused(db: Executor, crm: string, accountId: string): Promise<boolean> {
  const rows = await db
    .select({ crm: refusedAccounts.crm })
    .from(refusedAccounts)
    .where(and(eq(refusedAccounts.crm, crm), eq(refusedAccounts.accountId, accountId)))
    .limit(1);
  return rows.length > 0;
}

/** An operator registers the account: a refusal from an earlier deletion is lifted. */
export async function liftRefusal(db: Executor, crm: string, accountId: string): Promise<void> {
  await db.delete(refusedAccounts).where(and(eq(refusedAccounts.crm, crm), eq(refusedAccounts.accountId, accountId)));
}

/**
 * An operator deletes a tenant: its contacts, credentials and ingest state go, and a CRM account
 * stays out (its credentials do not onboard it again) until an operator registers it. Whether it existed.
 */
export async function deleteTenantAndRefuse(db: Db, tenantId: string): Promise<boolean> {
  const tenant = await getTenant(db, tenantId);
  if (!tenant || !(await deleteTenant(db, tenantId))) return false;
  if (tenant.crm !== PUSH_CRM && tenant.crmAccountId !== null) {
    await db.insert(refusedAccounts).values({ crm: tenant.crm, accountId: tenant.crmAccountId }).onConflictDoNothing();
  }
  return true;
}

/** An operator approves a tenant awaiting approval (ONBOARDING=approval): its backfill starts. */
export async function approveTenant(db: Executor, ingest: Pick<IngestSchedule, 'activate'> | null | undefined, tenantId: string): Promise<TenantStatus> {
  const [row] = await db
    .update(tenants)
    .set({ status: sql`CASE WHEN ${tenants.status} = 'awaiting_approval' THEN ${backToWork} ELSE ${tenants.status} END`, updatedAt: sql`now()` })
    .where(eq(tenants.id, tenantId))
    .returning({ status: tenants.status, crm: tenants.crm });
  if (!row) throw new TenantNotFoundError(tenantId);
  if (isIngesting(row)) await ingest?.activate(tenantId);
  return row.status;
}

/** A known credential verified again: it works, and so does its tenant if it had none that did. */
export async function credentialReverified(
  db: Executor,
  ingest: Pick<IngestSchedule, 'activate'> | null | undefined,
  tenantId: string,
  credentialId: string,
  allows: string[],
): Promise<Tenant> {
  await credentialVerified(db, credentialId, allows);
  const [tenant] = await db
    .update(tenants)
    .set({ status: withWorkingCredential })
    .where(eq(tenants.id, tenantId))
    .returning();
  if (!tenant) throw new TenantNotFoundError(tenantId);
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

/** A tenant grew past MAX_CONTACTS_PER_TENANT: paused, with the reason where operators look. */
export async function overQuota(db: Executor, ingest: Pick<IngestSchedule, 'deactivate'>, tenantId: string, message: string): Promise<void> {
  await stopIngest(db, ingest, tenantId, 'paused', message);
}

/**
 * The CRM refused one of the tenant's credentials. While another works the workers move to it;
 * when none is left, ingest stops (the mirror stays) until credentials that verify arrive.
 * Returns how many still work.
 */
export async function credentialFailed(
  db: Executor,
  ingest: Pick<IngestSchedule, 'deactivate'>,
  tenantId: string,
  credentialId: string | undefined,
  message: string,
): Promise<number> {
  // No id: the tenant was found with no credential to try at all.
  const working = credentialId ? await markCredentialFailed(db, credentialId, message) : await countWorking(db, tenantId);
  if (working === 0) await stopIngest(db, ingest, tenantId, 'credentials_failed', message);
  return working;
}

/**
 * A Talkdesk-managed OAuth access token the CRM reports expired: expected (Talkdesk refreshes its
 * tokens and sends the fresh one with its next call), so the credential is set aside, not failed,
 * and a tenant left with none that works waits in token_expired, its mirror still served, until
 * a sync brings a token that verifies. Returns how many still work.
 */
export async function credentialExpired(db: Executor, ingest: Pick<IngestSchedule, 'deactivate'>, tenantId: string, credentialId: string): Promise<number> {
  await markCredentialExpired(db, credentialId);
  const working = await countWorking(db, tenantId);
  if (working === 0) {
    await stopIngest(db, ingest, tenantId, 'token_expired', null);
  }
  return working;
}

/**
 * The CRM refused the tenant's OAuth connection (its refresh token revoked, the app uninstalled):
 * every connection key of the tenant stops working, with the reason, until the customer connects
 * again. A tenant left with no credential that works is credentials_failed. Returns how many still work.
 */
export async function connectionRefused(
  db: Executor,
  keys: BridgeKeys,
  ingest: Pick<IngestSchedule, 'deactivate'>,
  tenant: Tenant,
  message: string,
): Promise<number> {
  await setCredentialsStatus(db, await connectionKeyIds(db, keys, tenant), 'failed', message);
  const working = await countWorking(db, tenant.id);
  if (working === 0) await stopIngest(db, ingest, tenant.id, 'credentials_failed', message);
  return working;
}

/** A customer connected again: the tenant's connection keys work again (one OAuth connection stands behind them all). */
export async function connectionRestored(db: Executor, keys: BridgeKeys, tenant: Tenant): Promise<void> {
  await setCredentialsStatus(db, await connectionKeyIds(db, keys, tenant), 'working', null);
}

/** An operator revokes one credential; a tenant left with none that works stops ingesting. */
export async function revokeCredential(db: Executor, ingest: Pick<IngestSchedule, 'deactivate'> | null | undefined, tenantId: string, credentialId: string): Promise<boolean> {
  if (!(await deleteCredential(db, tenantId, credentialId))) return false;
  const tenant = await getTenant(db, tenantId);
  if (tenant && tenant.crm !== PUSH_CRM && (await countWorking(db, tenantId)) === 0) {
    await stopIngest(db, ingest ?? null, tenantId, 'credentials_failed', 'every credential was revoked');
  }
  return true;
}

/**
 * Ingest stops with a status that says why; the mirror stays and keeps answering syncs. The
 * message is the run's error where operators look; none for an expected stop (token_expired).
 */
async function stopIngest(
  db: Executor,
  ingest: Pick<IngestSchedule, 'deactivate'> | null,
  tenantId: string,
  status: Extract<TenantStatus, 'paused' | 'credentials_failed' | 'token_expired'>,
  message: string | null,
): Promise<void> {
  await db.update(tenants).set({ status, updatedAt: sql`now()` }).where(eq(tenants.id, tenantId));
  if (message !== null) await recordRun(db, tenantId, { error: message });
  // Without Redis the schedule stays; its next tick finds the status and removes it.
  await ingest?.deactivate(tenantId).catch(() => {});
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
