import { and, asc, eq, gt } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { tenants, type Tenant } from '../db/schema.js';
import { authDigest } from './auth-digest.js';
import { decryptCredentials, encryptCredentials, underCurrentKey } from './credential-cipher.js';
import type { BridgeKeys } from './keys.js';

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
  const [current] = await db.select().from(tenants).where(eq(tenants.id, tenant.id));
  return current ?? tenant;
}

export interface RotationReport {
  tenants: number;
  /** Already under the current secret before this pass. */
  current: number;
  /** Moved to the current secret by this pass. */
  rewritten: number;
  /** Still under the previous secret (with `dryRun`; a real pass leaves none it can read). */
  pending: number;
  /** Neither secret opens them: removing BRIDGE_SECRET_PREVIOUS now would strand these tenants. */
  unreadable: string[];
}

/**
 * Every tenant not yet under the current secret, rewritten one at a time (each its own UPDATE,
 * so a long pass holds no lock on the table). With `dryRun` nothing is written: the report
 * then says what is left, which is how an operator knows a rotation is complete.
 */
export async function rewriteAllUnderCurrentSecret(
  db: Executor,
  keys: BridgeKeys,
  { dryRun = false, batchSize = 500 }: { dryRun?: boolean; batchSize?: number } = {},
): Promise<RotationReport> {
  const report: RotationReport = { tenants: 0, current: 0, rewritten: 0, pending: 0, unreadable: [] };
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const page = await db.select().from(tenants).where(gt(tenants.id, after)).orderBy(asc(tenants.id)).limit(batchSize);
    for (const tenant of page) {
      report.tenants++;
      if (underCurrentKey(keys, tenant.credentials)) {
        report.current++;
        continue;
      }
      try {
        decryptCredentials(keys, tenant.credentials);
      } catch {
        report.unreadable.push(tenant.id);
        continue;
      }
      if (dryRun) {
        report.pending++;
      } else {
        await rewriteUnderCurrentSecret(db, keys, tenant);
        report.rewritten++;
      }
    }
    if (page.length < batchSize) return report;
    after = page[page.length - 1]!.id;
  }
}
