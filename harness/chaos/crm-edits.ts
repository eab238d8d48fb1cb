import { HUBSPOT_CONTACT_PROPERTIES } from '../../src/crm/hubspot/mapping.js';
import { isEditableProperty, type PropertyInput, type EditableProperty } from '../hubspot-sim/contact.js';
import type { SimControl } from '../hubspot-sim/control.js';
import { ContactGenerator } from '../hubspot-sim/generate.js';
import type { CrmWriteCounts } from './figures.js';
import { sample, shuffle, type Prng } from './random.js';

export type CrmWriteKind = 'create' | 'edit' | 'noop-edit' | 'blanking-edit' | 'bulk-edit' | 'archive' | 'merge';

// How often each kind of write happens; archivals and merges stay below creates so portals do not drain.
const WEIGHTS: ReadonlyArray<[CrmWriteKind, number]> = [
  ['create', 20],
  ['edit', 40],
  ['noop-edit', 12],
  ['blanking-edit', 12],
  ['bulk-edit', 6],
  ['archive', 10],
  ['merge', 5],
];

// What the mapping reads (src/crm/hubspot/mapping.ts), less the read-only id and change time:
// every one of them must reach Talkdesk.
const MAPPED: readonly EditableProperty[] = HUBSPOT_CONTACT_PROPERTIES.filter(isEditableProperty);

/**
 * Together under HUBSPOT_SEARCH_OVERLAP_SECONDS of the chaos stack (5 s): the window the bridge
 * re-reads behind its watermark is what covers a late, out-of-order index.
 */
const MAX_SEARCH_LAG_MS = 1500;
const INDEX_DISORDER_MS = 2000;

/** Below this many live contacts a portal gets creates instead of archivals. */
const MIN_LIVE = 20;

/**
 * The CRM side of the chaos run: random creates, edits (some that change nothing, some that
 * empty fields), bulk edits sharing one lastmodifieddate, archivals and merges, written into the
 * simulated HubSpot as its users would. Draws only from its own stream, so the same seed makes
 * the same sequence of writes (when they land is the machine's).
 */
export class CrmEditor {
  private readonly generator: ContactGenerator;
  /** Every kind once, in a random order, before the weighted draws: a short run still makes each. */
  private readonly firstKinds: CrmWriteKind[];
  private firstWriteAt: number | undefined;

  constructor(
    private readonly control: SimControl,
    private readonly portalIds: readonly number[],
    private readonly rng: Prng,
    private readonly counts: CrmWriteCounts,
    /** A Pipedrive company beside the portals: a share of the writes go to it. */
    private readonly pipedrive?: { editor: { write(): CrmWriteKind }; share: number },
  ) {
    this.generator = new ContactGenerator(rng.int(1, 2 ** 30));
    this.firstKinds = shuffle(rng, WEIGHTS.map(([kind]) => kind));
  }

  /** One write to one portal, both picked at random; returns what it was. */
  write(): CrmWriteKind {
    if (this.pipedrive && this.rng.chance(this.pipedrive.share)) return this.pipedrive.editor.write();
    const portalId = this.rng.pick(this.portalIds);
    const live = this.control.liveContacts({ portalId }).map((c) => c.id);
    let kind = this.pickKind();
    if (live.length < MIN_LIVE && kind !== 'create') kind = 'create';
    const one = () => this.rng.pick(live);
    switch (kind) {
      case 'create':
        this.control.createContacts([this.generator.next()], { portalId, ...this.stamp(portalId) });
        this.counts.creates++;
        break;
      case 'edit': {
        const id = one();
        this.control.editContact(id, this.changedFields(), { portalId, ...this.stamp(portalId, id) });
        this.counts.edits++;
        break;
      }
      case 'noop-edit': {
        const id = one();
        // Both ways a HubSpot user changes nothing: saving the form as it is, or a workflow touch.
        if (this.rng.chance(0.5)) this.control.touchContact(id, { portalId });
        else this.control.editContact(id, this.currentValues(id, portalId), { portalId });
        this.counts.noopEdits++;
        break;
      }
      case 'blanking-edit': {
        const id = one();
        this.control.editContact(id, this.blankedFields(id, portalId), { portalId, ...this.stamp(portalId, id) });
        this.counts.blankingEdits++;
        break;
      }
      case 'bulk-edit': {
        const ids = sample(this.rng, live, this.rng.int(3, Math.min(40, live.length)));
        const properties = this.rng.chance(0.25) ? {} : this.changedFields();
        this.control.bulkEdit({ ids, properties, portalId });
        this.counts.bulkEdits++;
        this.counts.bulkEdited += ids.length;
        break;
      }
      case 'archive': {
        const ids = sample(this.rng, live, this.rng.int(1, 3));
        this.control.archiveContacts(ids, { portalId });
        this.counts.archivals += ids.length;
        break;
      }
      case 'merge': {
        // Listed nowhere afterwards: only the survivor's hs_merged_object_ids tells the bridge.
        const [loser, survivor] = sample(this.rng, live, 2);
        this.control.mergeContacts(loser!, survivor!, { portalId });
        this.counts.merges++;
        break;
      }
    }
    return kind;
  }

  /** HubSpot's search index lag varies; the simulator's is set anew each round. */
  varySearchLag(): void {
    this.control.setSearchLag(this.rng.int(0, MAX_SEARCH_LAG_MS));
  }

  /**
   * HubSpot indexes writes out of order: a contact can reach search after others modified later
   * than it. The simulator's index applies writes in order, so half the single writes are stamped
   * up to INDEX_DISORDER_MS in the past (never before the contact's previous version): they then
   * reach search after writes with a later lastmodifieddate, which only the bridge's overlap
   * window re-reads.
   */
  private stamp(portalId: number, id?: string): { at?: number } {
    const now = this.control.now();
    // The simulator's list endpoint shows a write when it is made, not at its stamp: a stamp
    // from before the first write could fall before the backfill HubSpot's list served, which
    // real HubSpot, whose list shows a change at once, never does.
    this.firstWriteAt ??= now;
    if (!this.rng.chance(0.5)) return {};
    const previous = id === undefined ? undefined : this.control.getContact(id, { portalId })?.updatedAt;
    const floor = Math.max(this.firstWriteAt, previous === undefined ? -Infinity : Date.parse(previous) + 1);
    return { at: Math.min(now, Math.max(floor, now - this.rng.int(0, INDEX_DISORDER_MS))) };
  }

  private pickKind(): CrmWriteKind {
    const first = this.firstKinds.shift();
    if (first) return first;
    let r = this.rng.int(1, WEIGHTS.reduce((s, [, w]) => s + w, 0));
    for (const [kind, w] of WEIGHTS) if ((r -= w) <= 0) return kind;
    return 'edit';
  }

  /** One to three fields set to the values a freshly generated contact has (messy ones included). */
  private changedFields(): PropertyInput {
    const fresh = this.generator.next();
    const out: PropertyInput = {};
    for (const name of sample(this.rng, MAPPED, this.rng.int(1, 3))) out[name] = fresh[name] ?? `${name} ${this.rng.int(1, 9999)}`;
    return out;
  }

  /**
   * One to four of the fields the contact has emptied, as '' (what forms send) or null; sometimes
   * every source of its name at once, so the name falls back to the phone, the company or the id.
   */
  private blankedFields(id: string, portalId: number): PropertyInput {
    const props = this.control.getContact(id, { portalId })?.properties ?? {};
    const filled = MAPPED.filter((name) => (props[name] ?? '').trim() !== '');
    const names = this.rng.chance(0.15) ? (['firstname', 'lastname', 'email'] as const) : sample(this.rng, filled, this.rng.int(1, 4));
    const out: PropertyInput = {};
    for (const name of names) out[name] = this.rng.chance(0.5) ? '' : null;
    return out;
  }

  private currentValues(id: string, portalId: number): PropertyInput {
    const props = this.control.getContact(id, { portalId })?.properties ?? {};
    const out: PropertyInput = {};
    for (const name of sample(this.rng, MAPPED, this.rng.int(1, 3))) out[name] = props[name] ?? null;
    return out;
  }
}
