import { eq } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { tenants, type Tenant, type TenantStatus } from '../db/schema.js';
import { authDigest, digestsEqual } from './auth-digest.js';
import { encryptCredentials } from './credential-cipher.js';
import { DuplicateCredentialsError } from './errors.js';
import type { BridgeKeys } from './keys.js';

export async function findTenantByAuth(
  db: Executor,
  keys: BridgeKeys,
  auth: Record<string, unknown>,
): Promise<Tenant | undefined> {
  const digest = authDigest(keys.authDigest, auth);
  const [tenant] = await db.select().from(tenants).where(eq(tenants.authDigest, digest)).limit(1);
  // The index lookup already matched; the constant-time comparison keeps the final decision
  // free of any early-exit timing, whatever the lookup path does.
  return tenant && digestsEqual(tenant.authDigest, digest) ? tenant : undefined;
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
  const [tenant] = await db
    .insert(tenants)
    .values({
      name: input.name,
      crm: input.crm,
      crmAccountId: input.crmAccountId ?? null,
      authDigest: authDigest(keys.authDigest, input.auth),
      credentials: encryptCredentials(keys.credentials, input.auth),
      status: input.status ?? 'active',
      backfillCompletedAt: input.backfillComplete ? new Date().toISOString() : null,
    })
    .onConflictDoNothing({ target: tenants.authDigest })
    .returning();
  if (!tenant) throw new DuplicateCredentialsError();
  return tenant;
}
