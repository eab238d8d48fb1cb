import type { Tombstone } from '../../mirror/contact.js';
import { HUBSPOT_CONTACT_PROPERTIES } from './mapping.js';
import type { HubSpotRecord } from './client.js';

/**
 * Merges, which no HubSpot listing reports: merging contact A into B removes A's id from the
 * list, the archived list and search alike, and leaves only B's `hs_merged_object_ids`
 * ("A;…", semicolon-separated) saying A is gone. So every read asks for that property, and a
 * page that brings B tombstones A in the same write. Webhooks off, a private-app token and no
 * sweep, a merge still leaves Talkdesk with one contact.
 * https://knowledge.hubspot.com/records/merge-records
 */
export const MERGED_IDS_PROPERTY = 'hs_merged_object_ids';

/** What every contact read asks HubSpot for: what the mapping reads, and the merged ids. */
export const HUBSPOT_READ_PROPERTIES: readonly string[] = [...HUBSPOT_CONTACT_PROPERTIES, MERGED_IDS_PROPERTY];

/** What a read of archived contacts asks for: the id, and the merged ids an archived survivor still names. */
export const HUBSPOT_ARCHIVED_READ_PROPERTIES: readonly string[] = ['hs_object_id', MERGED_IDS_PROPERTY];

const ID = /^\d{1,30}$/;

/** The ids a record says were merged into it: numeric ones only, never its own. */
export function mergedIds(record: HubSpotRecord): string[] {
  const raw = record.properties[MERGED_IDS_PROPERTY];
  if (!raw) return [];
  const own = record.id.trim();
  const out = new Set<string>();
  for (const part of raw.split(';')) {
    const id = part.trim();
    if (ID.test(id) && id !== own) out.add(id);
  }
  return [...out];
}

/**
 * Tombstones of the ids the page's records name as merged into them. They go after the page's
 * contacts (the writer keeps the last item of an id): HubSpot never lists a merged-away id
 * again, so one that shows up live beside its survivor is a stale read of a lagging index and
 * must not stay alive. A record's own id is never among them (mergedIds drops it), so a survivor
 * is only ever written live. A tombstone of an id the mirror does not hold, or holds deleted
 * already, writes nothing and moves no key.
 */
export function mergeTombstones(records: readonly HubSpotRecord[]): Tombstone[] {
  const out = new Map<string, Tombstone>();
  for (const record of records) for (const id of mergedIds(record)) out.set(id, { id, deleted: true });
  return [...out.values()];
}
