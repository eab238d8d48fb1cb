import { mapHubSpotContact } from '../../src/crm/hubspot/mapping.js';
import type { SimControl } from '../../src/dev/hubspot-sim/control.js';
import { syncRun, type SyncCall } from './talkdesk.js';

type Contact = Record<string, unknown> & { id: string };

/**
 * Talkdesk's own copy of a tenant's contacts, kept as Talkdesk keeps it: a run without a
 * checkpoint replaces the copy, a run with one upserts into it, and the checkpoint of the last
 * page is what the next run sends.
 */
export class TalkdeskCopy {
  readonly contacts = new Map<string, Contact>();
  checkpoint: string | undefined;
  runs = 0;
  fullRuns = 0;

  constructor(
    private readonly call: SyncCall,
    private readonly auth: Record<string, unknown>,
  ) {}

  async sync(): Promise<void> {
    const full = this.checkpoint === undefined;
    const run = await syncRun(this.call, this.auth, this.checkpoint);
    if (full) {
      this.contacts.clear();
      this.fullRuns++;
    }
    for (const c of run.contacts) this.contacts.set(c.id, c);
    this.checkpoint = run.checkpoint;
    this.runs++;
  }
}

/** The simulator's live contacts of a portal, mapped exactly as the bridge maps them. */
export function crmTruth(control: SimControl, portalId: number): Map<string, Contact> {
  return new Map(
    control.liveContacts({ portalId }).map((c) => [c.id, mapHubSpotContact(c, { portalId, defaultRegion: 'US' }) as Contact]),
  );
}

/** Differences between Talkdesk's copy and the CRM: missing, stale and deleted-but-present ids. */
export function diff(copy: Map<string, Contact>, truth: Map<string, Contact>) {
  const missing: string[] = [];
  const stale: string[] = [];
  for (const [id, c] of truth) {
    const held = copy.get(id);
    if (!held) missing.push(id);
    else if (JSON.stringify(sorted(held)) !== JSON.stringify(sorted(c))) stale.push(id);
  }
  const deletedButPresent = [...copy.keys()].filter((id) => !truth.has(id));
  return { missing, stale, deletedButPresent };
}

const sorted = (c: Contact) => Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b)));
