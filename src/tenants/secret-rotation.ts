import type { Executor } from '../db/client.js';
import { decryptCredentials, underCurrentKey } from './credential-cipher.js';
import type { BridgeKeys } from './keys.js';
import { isConnectionMarker } from './connection-keys.js';
import { bindingOf, credentialsAfter, rewriteUnderCurrentSecret } from './credentials.js';

export interface RotationReport {
  /** Credentials looked at. */
  credentials: number;
  /** Already under the current secret before this pass. */
  current: number;
  /** Moved to the current secret by this pass. */
  rewritten: number;
  /**
   * Still under the previous secret: with `dryRun`, every one; otherwise connection keys not sent
   * by Talkdesk since the rotation began (their value is stored nowhere to digest it again).
   */
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
      let stored: Record<string, unknown>;
      try {
        stored = decryptCredentials(keys, match.credential.secret, bindingOf(match.tenant));
      } catch {
        report.unreadable.push(match.credential.id);
        continue;
      }
      // A connection key's value is stored nowhere, so its digest cannot be made again here: it
      // moves to the current secret when Talkdesk next sends it (findCredential).
      if (dryRun || isConnectionMarker(stored)) {
        report.pending++;
      } else {
        await rewriteUnderCurrentSecret(db, keys, match);
        report.rewritten++;
      }
    }
    if (page.length < batchSize) return report;
    after = page[page.length - 1]!.credential.id;
  }
}
