import type { Executor } from '../db/client.js';
import { decryptCredentials, underCurrentKey } from './credential-cipher.js';
import type { BridgeKeys } from './keys.js';
import { rewriteConnectionsUnderCurrentSecret } from './oauth-connections.js';
import { bindingOf, credentialsAfter, rewriteUnderCurrentSecret } from './credentials.js';

export interface RotationReport {
  /** Credentials looked at. */
  credentials: number;
  /** Already under the current secret before this pass. */
  current: number;
  /** Moved to the current secret by this pass. */
  rewritten: number;
  /** Still under the previous secret (with `dryRun`; a real pass leaves none it can read). */
  pending: number;
  /** Credential ids neither secret opens: removing BRIDGE_SECRET_PREVIOUS now would strand them. */
  unreadable: string[];
}

/**
 * Every credential not yet under the current secret (or not yet bound to its tenant), rewritten
 * one at a time (each its own UPDATE, so a long pass holds no lock on the table; credentials.ts's
 * rewriteUnderCurrentSecret says how). With `dryRun` nothing is written: the report then says what is left, which is how an
 * operator knows a rotation is complete.
 */
export async function rewriteAllUnderCurrentSecret(
  db: Executor,
  keys: BridgeKeys,
  { dryRun = false, batchSize = 500 }: { dryRun?: boolean; batchSize?: number } = {},
): Promise<RotationReport> {
  const report: RotationReport = { credentials: 0, current: 0, rewritten: 0, pending: 0, unreadable: [] };
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const page = await credentialsAfter(db, after, batchSize);
    for (const match of page) {
      report.credentials++;
      if (underCurrentKey(keys, match.credential.secret)) {
        report.current++;
        continue;
      }
      try {
        decryptCredentials(keys, match.credential.secret, bindingOf(match.tenant));
      } catch {
        report.unreadable.push(match.credential.id);
        continue;
      }
      if (dryRun) {
        report.pending++;
      } else {
        await rewriteUnderCurrentSecret(db, keys, match);
        report.rewritten++;
      }
    }
    if (page.length < batchSize) break;
    after = page[page.length - 1]!.credential.id;
  }
  // The OAuth connections' tokens are credentials too, counted with them.
  const connections = await rewriteConnectionsUnderCurrentSecret(db, keys, { dryRun });
  report.credentials += connections.connections;
  report.current += connections.current;
  report.rewritten += connections.rewritten;
  report.pending += connections.pending;
  report.unreadable.push(...connections.unreadable);
  return report;
}
