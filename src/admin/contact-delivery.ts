import { Type, type Static } from '@sinclair/typebox';
import type { Credential } from '../db/schema.js';

/**
 * Whether a Talkdesk copy (a credential) has a contact's current version. "Has" is proven, not
 * hoped: Talkdesk sends a checkpoint back only after completing the run that issued it, so a
 * version at or below the copy's largest returned checkpoint is in it; one a served page passed
 * is only handed out until then. A tombstone is gone once a checkpoint comes back from a full
 * run that began after it (a run without a checkpoint replaces the copy); pending until then.
 */
export const DeliverySchema = Type.Union([
  Type.Literal('confirmed', { description: 'the copy sent back a checkpoint at or past this version' }),
  Type.Literal('handed_out', { description: 'a page with this version was served to the copy, not yet confirmed' }),
  Type.Literal('not_sent', { description: 'no page with this version was served to the copy yet' }),
  Type.Literal('gone', { description: 'deleted, and a full run that began after the deletion reached the copy' }),
  Type.Literal('pending_deletion', { description: 'deleted, and no full run since has been confirmed by the copy' }),
]);
export type Delivery = Static<typeof DeliverySchema>;

/** A contact's current version: its key and whether it is a tombstone. */
export interface Version {
  us: bigint;
  id: string;
  deleted: boolean;
}

export type CopyState = Pick<Credential, 'handedOutUs' | 'handedOutId' | 'confirmedUs' | 'confirmedId' | 'deletionsConfirmedUs'>;

export function deliveryOf(version: Version, copy: CopyState): Delivery {
  if (version.deleted) {
    return copy.deletionsConfirmedUs !== null && version.us <= copy.deletionsConfirmedUs ? 'gone' : 'pending_deletion';
  }
  if (atOrBefore(version, copy.confirmedUs, copy.confirmedId)) return 'confirmed';
  if (atOrBefore(version, copy.handedOutUs, copy.handedOutId)) return 'handed_out';
  return 'not_sent';
}

/** Keys compare by time, then by id bytewise (the cursor's order: ids are COLLATE "C"). */
function atOrBefore(version: Version, us: bigint | null, id: string | null): boolean {
  if (us === null) return false;
  if (version.us !== us) return version.us < us;
  return Buffer.compare(Buffer.from(version.id, 'utf8'), Buffer.from(id ?? '', 'utf8')) <= 0;
}
