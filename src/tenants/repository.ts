import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Db, Executor } from '../db/client.js';
import { tenants, type Tenant, type TenantStatus } from '../db/schema.js';
import { authDigest, digestsEqual } from './auth-digest.js';
import { decryptCredentials, encryptCredentials, underCurrentKey } from './credential-cipher.js';
import { DuplicateCredentialsError } from './errors.js';
import type { BridgeKeys } from './keys.js';

// Every statement on the tenants table, but the ones that move a tenant's status (lifecycle.ts)
// and the mirror writer's lock and change time (mirror/writer.ts: the invariant's own).

/**
 * The tenant these credentials belong to. During a BRIDGE_SECRET rotation a tenant still under
 * the previous secret is found by its old digest too, and rewritten under the current secret as
 * it is found, so every tenant in use moves over without an operator's help.
 */
export async function findTenantByAuth(
  db: Executor,
  keys: BridgeKeys,
  auth: Record<string, unknown>,
): Promise<Tenant | undefined> {
  const digest = authDigest(keys.authDigest, auth);
  const previous = keys.previous ? authDigest(keys.previous.authDigest, auth) : undefined;
  const rows = await db
    .select()
    .from(tenants)
    .where(previous ? inArray(tenants.authDigest, [digest, previous]) : eq(tenants.authDigest, digest))
    .limit(2);
  // The index lookup already matched; the constant-time comparisons keep the final decision
  // free of any early-exit timing, whatever the lookup path does.
  const current = rows.find((t) => digestsEqual(t.authDigest, digest));
  if (current) return current;
  const old = previous && rows.find((t) => digestsEqual(t.authDigest, previous));
  if (!old) return undefined;
  // The credentials matched: serve the request even if the rewrite cannot be done now. The
  // rotation command retries it, and reports a row it cannot rewrite.
  return rewriteUnderCurrentSecret(db, keys, old).catch(() => old);
}

export async function getTenant(db: Executor, id: string): Promise<Tenant | undefined> {
  const [tenant] = await db.select().from(tenants).where(eq(tenants.id, id)).limit(1);
  return tenant;
}

/** Tenants in id order after `after` (a page of a pass over every tenant). */
export async function tenantsAfter(db: Executor, after: string, limit: number): Promise<Tenant[]> {
  return db.select().from(tenants).where(gt(tenants.id, after)).orderBy(asc(tenants.id)).limit(limit);
}

export async function countTenants(db: Executor): Promise<number> {
  const { rows } = await db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM tenants`);
  return rows[0]!.n;
}

/** A tenant with its ingest state as operators read it: timestamps are ISO 8601 (UTC, microseconds). */
export type TenantRecord = {
  id: string;
  name: string;
  status: TenantStatus;
  crm: string;
  crm_account_id: string | null;
  /** Null until the mirror's first write. */
  last_change_at: string | null;
  last_success_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
  backfill_pages: number | null;
  backfill_contacts: number | null;
  backfill_total: number | null;
  backfill_completed_at: string | null;
  last_reconcile_at: string | null;
  last_deletion_resync_at: string | null;
  created_at: string;
};

const iso = (column: string) => sql.raw(`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);

/** One tenant's record, or a page of them in creation order. */
export async function readTenantRecords(
  db: Executor,
  which: { id: string } | { limit: number; offset: number },
): Promise<TenantRecord[]> {
  const { rows } = await db.execute<TenantRecord>(sql`
    SELECT t.id, t.name, t.status, t.crm, t.crm_account_id,
           CASE WHEN t.last_change_at = '-infinity' THEN NULL ELSE ${iso('t.last_change_at')} END AS last_change_at,
           ${iso('s.last_success_at')} AS last_success_at,
           s.last_error, ${iso('s.last_error_at')} AS last_error_at,
           s.backfill_pages, s.backfill_contacts, s.backfill_total, ${iso('t.backfill_completed_at')} AS backfill_completed_at,
           ${iso('s.last_reconcile_at')} AS last_reconcile_at,
           ${iso('t.last_deletion_resync_at')} AS last_deletion_resync_at,
           ${iso('t.created_at')} AS created_at
    FROM tenants t
    LEFT JOIN ingest_state s ON s.tenant_id = t.id
    ${'id' in which ? sql`WHERE t.id = ${which.id}` : sql``}
    ORDER BY t.created_at, t.id
    LIMIT ${'id' in which ? 1 : which.limit} OFFSET ${'id' in which ? 0 : which.offset}`);
  return rows;
}

export interface NewTenantInput {
  name: string;
  crm: string;
  crmAccountId?: string;
  auth: Record<string, unknown>;
  status?: TenantStatus;
  /** Tenants fed by the admin push have nothing to backfill: complete from creation. */
  backfillComplete: boolean;
}

export async function createTenant(db: Executor, keys: BridgeKeys, input: NewTenantInput): Promise<Tenant> {
  // During a rotation the same credentials may be registered under the previous secret, where
  // the unique digest below cannot see them: a second tenant would answer for the same auth.
  if (keys.previous && (await findTenantByAuth(db, keys, input.auth))) throw new DuplicateCredentialsError();
  const [tenant] = await db
    .insert(tenants)
    .values({
      name: input.name,
      crm: input.crm,
      crmAccountId: input.crmAccountId ?? null,
      authDigest: authDigest(keys.authDigest, input.auth),
      credentials: encryptCredentials(keys, input.auth),
      status: input.status ?? 'active',
      backfillCompletedAt: input.backfillComplete ? new Date().toISOString() : null,
    })
    .onConflictDoNothing({ target: tenants.authDigest })
    .returning();
  if (!tenant) throw new DuplicateCredentialsError();
  return tenant;
}

/** Whether the tenant existed (and is now so named). */
export async function renameTenant(db: Executor, id: string, name: string): Promise<boolean> {
  const updated = await db.update(tenants).set({ name, updatedAt: sql`now()` }).where(eq(tenants.id, id)).returning({ id: tenants.id });
  return updated.length > 0;
}

/**
 * A tenant's auth digest and credentials are always written together, under one secret. During a
 * BRIDGE_SECRET rotation this moves one tenant from the previous secret to the current one: the
 * stored credentials (exactly what Talkdesk sends as `auth`) are decrypted, then digested and
 * encrypted again under the current secret, both columns in one UPDATE. The UPDATE applies only
 * if the row still holds what was read, so credentials that changed meanwhile (a rotated CRM
 * token) are never overwritten with older ones.
 */
export async function rewriteUnderCurrentSecret(db: Executor, keys: BridgeKeys, tenant: Tenant): Promise<Tenant> {
  if (underCurrentKey(keys, tenant.credentials)) return tenant;
  const auth = decryptCredentials(keys, tenant.credentials);
  const [rewritten] = await db
    .update(tenants)
    .set({ authDigest: authDigest(keys.authDigest, auth), credentials: encryptCredentials(keys, auth) })
    .where(and(eq(tenants.id, tenant.id), eq(tenants.credentials, tenant.credentials)))
    .returning();
  if (rewritten) return rewritten;
  // Someone else wrote the row first (another replica's rewrite, new credentials): theirs stands.
  return (await getTenant(db, tenant.id)) ?? tenant;
}

/**
 * Claims the tenant's deletion resync (an incremental sync withholding its checkpoint so the next
 * run is a full one) unless one was claimed within `intervalSeconds`. Atomic, so two runs racing
 * for the same window cannot both withhold.
 */
export async function claimDeletionResync(db: Executor, tenantId: string, intervalSeconds: number): Promise<boolean> {
  const claimed = await db.execute(sql`
    UPDATE tenants SET last_deletion_resync_at = now()
    WHERE id = ${tenantId}
      AND (last_deletion_resync_at IS NULL OR last_deletion_resync_at <= now() - make_interval(secs => ${intervalSeconds}))
  `);
  return (claimed.rowCount ?? 0) > 0;
}

/** Records that every tombstone up to `horizon` (a timestamptz literal, microseconds) is reflected in Talkdesk; never moves back. */
export async function recordDeletionsReflected(db: Executor, tenantId: string, horizon: string): Promise<void> {
  await db.execute(sql`
    UPDATE tenants SET deletions_reflected_at = ${horizon}::timestamptz
    WHERE id = ${tenantId}
      AND (deletions_reflected_at IS NULL OR deletions_reflected_at < ${horizon}::timestamptz)
  `);
}

/**
 * Deletes a tenant with its contacts (its ingest state and credentials go with the row). The
 * tenant row is locked first, as the mirror writer does, so a batch being written finishes
 * before the contacts are deleted, and one arriving after finds no tenant.
 */
export async function deleteTenant(db: Db, id: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const locked = await tx.execute(sql`SELECT 1 FROM tenants WHERE id = ${id} FOR UPDATE`);
    if (locked.rowCount === 0) return false;
    await tx.execute(sql`DELETE FROM contacts WHERE tenant_id = ${id}`);
    await tx.execute(sql`DELETE FROM tenants WHERE id = ${id}`);
    return true;
  });
}
