import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { MirrorChange } from '../../mirror/writer.js';

/** HubSpot sends at most 100 events a request (https://developers.hubspot.com/docs/api/webhooks). */
export const HUBSPOT_MAX_EVENTS = 100;

const ObjectId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

/**
 * One event as HubSpot sends it, the fields the bridge reads (HubSpot adds others: eventId,
 * subscriptionId, appId, attemptNumber, changeSource, propertyValue…, dropped before queuing).
 */
export const HubSpotEventSchema = Type.Object({
  portalId: ObjectId,
  subscriptionType: Type.String({ maxLength: 100 }),
  objectId: ObjectId,
  occurredAt: Type.Optional(Type.Integer()),
  // contact.merge: the survivor (newObjectId when the merge made a new id) and the merged-away ids.
  primaryObjectId: Type.Optional(ObjectId),
  newObjectId: Type.Optional(ObjectId),
  mergedObjectIds: Type.Optional(Type.Array(ObjectId, { maxItems: 250 })),
});
export type HubSpotEvent = Static<typeof HubSpotEventSchema>;

export const HubSpotDeliverySchema = Type.Array(HubSpotEventSchema, { maxItems: HUBSPOT_MAX_EVENTS });
export const hubspotDelivery = TypeCompiler.Compile(HubSpotDeliverySchema);
const hubspotEvent = TypeCompiler.Compile(HubSpotEventSchema);

/** What a queued event keeps: what webhookTargets reads, no property values (ids only in job data). */
export function queuedEvent(e: HubSpotEvent): HubSpotEvent {
  const { portalId, subscriptionType, objectId, occurredAt, primaryObjectId, newObjectId, mergedObjectIds } = e;
  return {
    portalId,
    subscriptionType,
    objectId,
    ...(occurredAt !== undefined ? { occurredAt } : {}),
    ...(primaryObjectId !== undefined ? { primaryObjectId } : {}),
    ...(newObjectId !== undefined ? { newObjectId } : {}),
    ...(mergedObjectIds !== undefined ? { mergedObjectIds } : {}),
  };
}

/**
 * What a batch of events asks of the mirror. Events are hints, never the data: they come late,
 * twice and out of order, so every contact an event names is read again (its current state,
 * which the writer never lets replace a newer version), deletions included, since a contact
 * deleted and restored since must stay. Privacy deletions alone are final: the contact and its
 * history leave the mirror, whatever else the batch says of it.
 */
export function webhookTargets(events: readonly unknown[]): { reread: string[]; erase: string[] } {
  const reread = new Set<string>();
  const erase = new Set<string>();
  for (const raw of events) {
    // Job data is ours, but a queue outlives a deploy: an event of another shape is skipped.
    if (!hubspotEvent.Check(raw)) continue;
    const e = raw;
    switch (e.subscriptionType) {
      case 'contact.creation':
      case 'contact.propertyChange':
      case 'contact.restore':
      case 'contact.deletion':
        reread.add(String(e.objectId));
        break;
      case 'contact.privacyDeletion':
        erase.add(String(e.objectId));
        break;
      case 'contact.merge':
        // The survivor is read (it lists the merged ids, which the read tombstones) and so are the
        // merged-away ids (each reads as gone, or as the survivor: tombstoned either way).
        for (const id of [e.objectId, e.primaryObjectId, e.newObjectId, ...(e.mergedObjectIds ?? [])]) if (id !== undefined) reread.add(String(id));
        break;
      default:
      // Other objects' events (companies, deals) have no place in a contact mirror.
    }
  }
  for (const id of erase) reread.delete(id);
  return { reread: [...reread], erase: [...erase] };
}

/** Erasures go last: the writer keeps the last item of an id, and a privacy deletion is final. */
export function withErasures(read: readonly MirrorChange[], erase: readonly string[]): MirrorChange[] {
  return [...read, ...erase.map((id) => ({ id, deleted: true as const, erase: true as const }))];
}
