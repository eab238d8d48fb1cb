import { eq, sql } from 'drizzle-orm';
import type { Db, Executor } from '../db/client.js';
import { tenants, type Tenant, type TenantStatus } from '../db/schema.js';
import { addCredential } from './credentials.js';
import type { BridgeKeys } from './keys.js';

// Every statement on the tenants table, but the ones that move a tenant's status (lifecycle.ts)
// and the mirror writer's lock and change time (mirror/writer.ts: the invariant's own).

export async function getTenant(db: Executor, id: string): Promise<Tenant | undefined> {
  const [tenant] = await db.select().from(tenants).where(eq(tenants.id, id)).limit(1);
  return tenant;
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
  /** Requests left in the CRM's daily budget, when it states one. */
  crm_budget_left: number | null;
  /** Since when polling has been slowed by a low daily budget; null: not slowed. */
  crm_budget_low_since: string | null;
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
           s.crm_budget_left, ${iso('s.crm_budget_low_since')} AS crm_budget_low_since,
           -- Each Talkdesk copy (credential) has its own; the newest of them.
           ${iso('(SELECT max(c.last_deletion_resync_at) FROM credentials c WHERE c.tenant_id = t.id)')} AS last_deletion_resync_at,
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

/** A tenant and its first credential, in one transaction. */
export async function createTenant(db: Executor, keys: BridgeKeys, input: NewTenantInput): Promise<Tenant> {
  return db.transaction(async (tx) => {
    const [tenant] = await tx
      .insert(tenants)
      .values({
        name: input.name,
        crm: input.crm,
        crmAccountId: input.crmAccountId ?? null,
        status: input.status ?? 'active',
        backfillCompletedAt: input.backfillComplete ? new Date().toISOString() : null,
      })
      .returning();
    await addCredential(tx, keys, tenant!, { auth: input.auth, verified: false });
    return tenant!;
  });
}

/** Whether the tenant existed (and is now so named). */
export async function renameTenant(db: Executor, id: string, name: string): Promise<boolean> {
  const updated = await db.update(tenants).set({ name, updatedAt: sql`now()` }).where(eq(tenants.id, id)).returning({ id: tenants.id });
  return updated.length > 0;
}

/**
 * Deletes a tenant with its contacts (its ingest state and credentials go with the row, by cascade). The
 * tenant row is locked first, as the mirror writer does, so a batch being written finishes
 * before the contacts are deleted, and one arriving after finds no tenant.
 */
export async function deleteTenant(db: Db, id: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const locked = await tx.execute(sql`SELECT 1 FROM tenants WHERE id = ${id} FOR UPDATE`);
    if (locked.rowCount === 0) return false;
    await tx.execute(sql`DELETE FROM contacts WHERE tenant_id = ${id}`);
    await tx.execute(sql`DELETE FROM contact_history WHERE tenant_id = ${id}`);
    await tx.execute(sql`DELETE FROM contact_keys WHERE tenant_id = ${id}`);
    await tx.execute(sql`DELETE FROM contact_keys_state WHERE tenant_id = ${id}`);
    await tx.execute(sql`DELETE FROM tenants WHERE id = ${id}`);
    return true;
  });
}
