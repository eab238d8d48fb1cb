import { runSync, type SyncCall } from '../../src/cli/talkdesk-client.js';
import { mapHubSpotContact } from '../../src/crm/hubspot/mapping.js';
import type { Contact } from '../../src/mirror/contact.js';
import type { SimControl } from '../hubspot-sim/control.js';

export interface CopyRun {
  /** The run had no checkpoint to send, so it replaced the copy. */
  full: boolean;
  pages: number;
  contacts: number;
  /** The last page's checkpoint, which the next run sends; undefined makes the next run full. */
  checkpoint: string | undefined;
}

/**
 * Talkdesk's own copy of a tenant's contacts, kept as Talkdesk keeps it: a run without a
 * checkpoint replaces the copy, a run with one upserts into it, and the checkpoint of the last
 * page is what the next run sends. A run that fails part-way changes nothing: Talkdesk retries
 * it later from the checkpoint it already held.
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

  /** One run, through the call given at construction unless another is named. */
  async sync(call: SyncCall = this.call): Promise<CopyRun> {
    const full = this.checkpoint === undefined;
    const run = await runSync(call, { auth: this.auth, checkpoint: this.checkpoint });
    if (full) {
      this.contacts.clear();
      this.fullRuns++;
    }
    for (const c of run.contacts) this.contacts.set(c.id, c);
    this.checkpoint = run.checkpoint ?? undefined;
    this.runs++;
    return { full, pages: run.pages, contacts: run.contacts.length, checkpoint: this.checkpoint };
  }
}

/** The simulator's live contacts of a portal, mapped exactly as the bridge maps them. */
export function crmTruth(control: SimControl, portalId: number): Map<string, Contact> {
  return new Map(
    control.liveContacts({ portalId }).map((c) => [c.id, mapHubSpotContact(c, { portalId, defaultRegion: 'US' })]),
  );
}

export interface CopyDiff {
  /** Live in the CRM, absent from the copy. */
  missing: string[];
  /** In both, but not field for field equal. */
  stale: string[];
  /** In the copy, but no longer live in the CRM. */
  deletedButPresent: string[];
}

/** Differences between Talkdesk's copy and the CRM: missing, stale and deleted-but-present ids. */
export function diff(copy: Map<string, Contact>, truth: Map<string, Contact>): CopyDiff {
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

export const diffCount = (d: CopyDiff): number => d.missing.length + d.stale.length + d.deletedButPresent.length;

const sorted = (c: Contact) => Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b)));
