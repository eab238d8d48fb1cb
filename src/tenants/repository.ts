import { eq, inArray, sql } from 'drizzle-orm';
import type { Db, Executor } from '../db/client.js';
import { tenants, type Tenant, type TenantStatus } from '../db/schema.js';
import { authDigest, digestsEqual } from './auth-digest.js';
import { encryptCredentials } from './credential-cipher.js';
import { DuplicateCredentialsError } from './errors.js';
import type { BridgeKeys } from './keys.js';
import { rewriteUnderCurrentSecret } from './secret-rotation.js';

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
