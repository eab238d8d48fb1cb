import { diff } from '../talkdesk/copy.js';
import type { CrmWorld } from './crms.js';
import type { Mismatches } from './figures.js';
import type { TalkdeskSynchronizer } from './synchronizer.js';

/**
 * Talkdesk's next run after ingest caught up: incremental whenever the copy holds a checkpoint.
 * Whatever an incremental run skipped since the last full one is still missing or stale after
 * it; the full run the deletion rule may ask for next would paper over that, so this is checked
 * on its own.
 */
export async function oneMoreRun(synchronizer: TalkdeskSynchronizer, crms: CrmWorld): Promise<{ incremental: number; missing: number; stale: number; examples: string[] }> {
  const out = { incremental: 0, missing: 0, stale: 0, examples: [] as string[] };
  for (const [portalId, copy] of synchronizer.copies) {
    if (copy.checkpoint !== undefined) out.incremental++;
    await synchronizer.runStrict(portalId);
    const d = diff(copy.contacts, crms.truth(portalId));
    out.missing += d.missing.length;
    out.stale += d.stale.length;
    out.examples.push(...d.missing.slice(0, 3).map((id) => `${portalId}/${id} missing`), ...d.stale.slice(0, 3).map((id) => `${portalId}/${id} stale`));
  }
  return out;
}

/**
 * The run the deletion rule is about: once the resync window has passed, an incremental run
 * withholds its checkpoint while deletions are unreflected, and Talkdesk's next run is the full
 * one that drops them.
 */
export async function deletionResync(synchronizer: TalkdeskSynchronizer): Promise<void> {
  for (const [portalId, copy] of synchronizer.copies) {
    await synchronizer.runStrict(portalId);
    if (copy.checkpoint === undefined) await synchronizer.runStrict(portalId);
  }
}
/** Talkdesk's copies against the CRM's live contacts, mapped, field for field. */
export function compareWithCrm(synchronizer: TalkdeskSynchronizer, crms: CrmWorld): { compared: number; mismatches: Mismatches } {
  const mismatches: Mismatches = { missing: 0, stale: 0, deletedButPresent: 0, examples: [] };
  let compared = 0;
  for (const [portalId, copy] of synchronizer.copies) {
    const truth = crms.truth(portalId);
    compared += truth.size;
    const d = diff(copy.contacts, truth);
    mismatches.missing += d.missing.length;
    mismatches.stale += d.stale.length;
    mismatches.deletedButPresent += d.deletedButPresent.length;
    const label = (what: string) => (id: string) => `${portalId}/${id} ${what}`;
    mismatches.examples.push(
      ...d.missing.slice(0, 3).map(label('missing')),
      ...d.stale.slice(0, 3).map(label('stale')),
      ...d.deletedButPresent.slice(0, 3).map(label('deleted but present')),
    );
  }
  return { compared, mismatches };
}
