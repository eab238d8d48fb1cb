import type { Executor } from '../db/client.js';
import { decryptCredentials, underCurrentKey } from './credential-cipher.js';
import type { BridgeKeys } from './keys.js';
import { rewriteUnderCurrentSecret, tenantsAfter } from './repository.js';

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
 * so a long pass holds no lock on the table; repository.ts's rewriteUnderCurrentSecret says
 * how). With `dryRun` nothing is written: the report then says what is left, which is how an
 * operator knows a rotation is complete.
 */
export async function rewriteAllUnderCurrentSecret(
  db: Executor,
  keys: BridgeKeys,
  { dryRun = false, batchSize = 500 }: { dryRun?: boolean; batchSize?: number } = {},
): Promise<RotationReport> {
  const report: RotationReport = { tenants: 0, current: 0, rewritten: 0, pending: 0, unreadable: [] };
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const page = await tenantsAfter(db, after, batchSize);
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
