import { EDITABLE_PROPERTIES, makeProps, type ContactProps, type ContactVersion, type PropertyInput } from './contact.js';
import { objectNotFound, validationError } from './errors.js';
import { Prng } from './prng.js';
import { SearchIndex } from './search-index.js';
import { SortedChunks } from './sorted-chunks.js';
import type { StoreEvent, StoreListener } from './store-events.js';

export interface StoreOptions {
  clock: () => number;
  /** Read on every write, so the lag can be changed while running. */
  searchLagMs: () => number;
  /** Seeds the gaps between ids: HubSpot's ids increase but are not contiguous. */
  seed: number;
  firstId?: number;
}

export interface SeedEntry {
  props: PropertyInput;
  createdAt: number;
  updatedAt: number;
}

const byId = { major: (c: ContactVersion) => c.id, minor: () => 0 };
const NONE: readonly number[] = Object.freeze([]);

/**
 * One portal's contacts. Writes land in the list view at once and in the search index after the
 * lag (see SearchIndex). Every write makes a new immutable version.
 */
export class ContactStore {
  readonly search = new SearchIndex();
  private readonly current = new Map<number, ContactVersion>();
  private readonly live = new SortedChunks<ContactVersion>(byId);
  private readonly archived = new SortedChunks<ContactVersion>(byId);
  /** A merged-away id → the contact it now lives on (always the current survivor: one hop). */
  private readonly mergedInto = new Map<number, number>();
  private readonly listeners: StoreListener[] = [];
  private readonly idGaps: Prng;
  private nextId: number;

  constructor(private readonly options: StoreOptions) {
    this.idGaps = new Prng(options.seed ^ 0x1d5eed);
    this.nextId = options.firstId ?? 101;
  }

  get liveCount(): number {
    return this.live.size;
  }

  get archivedCount(): number {
    return this.archived.size;
  }

  now(): number {
    return this.options.clock();
  }

  /** Hears every write from now on (seeding excepted: history happened before anyone subscribed). */
  listen(listener: StoreListener): void {
    this.listeners.push(listener);
  }

  /** Historical contacts, visible to search at once: the portal as it was before the sync started. */
  seed(entries: readonly SeedEntry[]): ContactVersion[] {
    const made = entries.map((e) => this.version(this.takeId(), makeProps(e.props), e.createdAt, e.updatedAt, null));
    for (const v of made) this.current.set(v.id, v);
    if (this.live.size === 0) this.live.load(made);
    else for (const v of made) this.live.insert(v);
    this.search.load(made);
    return made;
  }

  create(input: PropertyInput, at = this.now()): ContactVersion {
    const v = this.version(this.takeId(), makeProps(input), at, at, null);
    this.current.set(v.id, v);
    this.live.insert(v);
    this.search.enqueue(v, this.now() + this.options.searchLagMs());
    this.emit({ type: 'creation', id: v.id, at });
    for (const [propertyName, propertyValue] of changedProps(undefined, v.props)) this.emit({ type: 'propertyChange', id: v.id, at, propertyName, propertyValue });
    return v;
  }

  /** Merges `input` into the live contact. An empty input still bumps lastmodifieddate, as HubSpot's does. */
  update(id: number, input: PropertyInput, at = this.now()): ContactVersion {
    const prev = this.requireLive(id);
    const v = this.version(id, makeProps(input, prev.props), prev.createdAt, at, null, prev.mergedIds);
    this.current.set(id, v);
    this.live.replace(prev, v);
    this.search.enqueue(v, this.now() + this.options.searchLagMs());
    for (const [propertyName, propertyValue] of changedProps(prev.props, v.props)) this.emit({ type: 'propertyChange', id, at, propertyName, propertyValue });
    return v;
  }

  archive(id: number, at = this.now()): ContactVersion {
    const prev = this.requireLive(id);
    const v = this.version(id, prev.props, prev.createdAt, at, at, prev.mergedIds);
    this.current.set(id, v);
    this.live.remove(prev);
    this.archived.insert(v);
    this.search.enqueue(v, this.now() + this.options.searchLagMs());
    this.emit({ type: 'deletion', id, at });
    return v;
  }

  /** Brings an archived contact back (HubSpot's restore, within its 90 days): live again, modified now. */
  restore(id: number, at = this.now()): ContactVersion {
    const prev = this.current.get(id);
    if (!prev || prev.archivedAt === null) throw objectNotFound(String(id));
    const v = this.version(id, prev.props, prev.createdAt, at, null, prev.mergedIds);
    this.current.set(id, v);
    this.archived.remove(prev);
    this.live.insert(v);
    this.search.enqueue(v, this.now() + this.options.searchLagMs());
    this.emit({ type: 'restore', id, at });
    return v;
  }

  /**
   * Merges `loserId` into `survivorId`, as HubSpot's merge does: the survivor keeps its id and its
   * values, takes the loser's where it has none (the loser's email joins its additional emails),
   * lists the loser (and whatever had been merged into the loser) in hs_merged_object_ids, and
   * is modified now. The loser's id leaves the list, the archived list and search alike: no
   * listing ever reports it deleted. Reads by the loser's id answer with the survivor.
   */
  merge(loserId: number, survivorId: number, at = this.now()): ContactVersion {
    if (loserId === survivorId) throw validationError('A contact cannot be merged into itself.');
    const loser = this.requireLive(loserId);
    const survivor = this.requireLive(survivorId);
    const mergedIds = [...new Set([...survivor.mergedIds, loser.id, ...loser.mergedIds])].sort((a, b) => a - b);
    const v = this.version(survivorId, mergeProps(survivor.props, loser.props), survivor.createdAt, at, null, mergedIds);
    this.current.set(survivorId, v);
    this.live.replace(survivor, v);
    this.current.delete(loserId);
    this.live.remove(loser);
    for (const id of [loser.id, ...loser.mergedIds]) this.mergedInto.set(id, survivorId);
    const due = this.now() + this.options.searchLagMs();
    this.search.enqueue(v, due);
    this.search.enqueue(gone(loser, at), due);
    this.emit({ type: 'merge', id: survivorId, at, primaryObjectId: survivorId, mergedObjectIds: [loserId], newObjectId: survivorId });
    return v;
  }

  /**
   * A GDPR deletion: the contact, live or archived, is gone from the list, the archived list and
   * search, and reads by its id (or by an id merged into it) find nothing. Unlike an archival,
   * nothing a client can list reports it.
   */
  privacyDelete(id: number, at = this.now()): ContactVersion {
    const prev = this.current.get(id);
    if (!prev) throw objectNotFound(String(id));
    (prev.archivedAt === null ? this.live : this.archived).remove(prev);
    this.current.delete(id);
    for (const [merged, into] of this.mergedInto) if (into === id) this.mergedInto.delete(merged);
    this.search.enqueue(gone(prev, at), this.now() + this.options.searchLagMs());
    this.emit({ type: 'privacyDeletion', id, at });
    return prev;
  }

  /** The latest version, archived or not. */
  get(id: number): ContactVersion | undefined {
    return this.current.get(id);
  }

  /** What a read by id finds: the contact itself, or the survivor it was merged into. */
  resolve(id: number): ContactVersion | undefined {
    const own = this.current.get(id);
    if (own) return own;
    const into = this.mergedInto.get(id);
    return into === undefined ? undefined : this.current.get(into);
  }

  /** A page of the list endpoint: ids >= `fromId`, ascending, and the id to resume from if more remain. */
  page(fromId: number, limit: number, archived: boolean): { items: ContactVersion[]; resumeFrom?: number } {
    const list = archived ? this.archived : this.live;
    const items: ContactVersion[] = [];
    let more = false;
    list.scan(list.lowerBound(fromId, -Infinity), 1, (c) => {
      if (items.length === limit) {
        more = true;
        return false;
      }
      items.push(c);
      return true;
    });
    const last = items[items.length - 1];
    return more && last ? { items, resumeFrom: last.id + 1 } : { items };
  }

  liveContacts(): ContactVersion[] {
    return this.live.toArray();
  }

  archivedContacts(): ContactVersion[] {
    return this.archived.toArray();
  }

  /** The first `count` live contacts by id: what a demo's "bulk edit N contacts" touches. */
  firstLiveIds(count: number): number[] {
    const ids: number[] = [];
    this.live.scan(0, 1, (c) => {
      if (ids.length === count) return false;
      ids.push(c.id);
      return true;
    });
    return ids;
  }

  private requireLive(id: number): ContactVersion {
    const prev = this.current.get(id);
    if (!prev || prev.archivedAt !== null) throw objectNotFound(String(id));
    return prev;
  }

  private takeId(): number {
    const id = this.nextId;
    this.nextId += this.idGaps.int(1, 7);
    return id;
  }

  private version(
    id: number,
    props: ContactVersion['props'],
    createdAt: number,
    updatedAt: number,
    archivedAt: number | null,
    mergedIds: readonly number[] = NONE,
  ): ContactVersion {
    return { id, props, createdAt, updatedAt, archivedAt, mergedIds };
  }

  private emit(event: StoreEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/** A version that only tells the search index to drop the contact (it drops whatever is archived). */
function gone(c: ContactVersion, at: number): ContactVersion {
  return { ...c, archivedAt: at };
}

/** The properties whose value differs, with the new value ('' for none, as HubSpot's events send it). */
function changedProps(prev: ContactProps | undefined, next: ContactProps): [string, string][] {
  const out: [string, string][] = [];
  for (const name of EDITABLE_PROPERTIES) {
    if ((prev?.[name] ?? null) !== next[name] && !(prev === undefined && next[name] === null)) out.push([name, next[name] ?? '']);
  }
  return out;
}

function mergeProps(survivor: ContactProps, loser: ContactProps): ContactProps {
  const filled: PropertyInput = {};
  for (const name of EDITABLE_PROPERTIES) {
    if ((survivor[name] ?? '') === '' && (loser[name] ?? '') !== '') filled[name] = loser[name];
  }
  const extra = [loser.email, ...(loser.hs_additional_emails?.split(';') ?? [])].filter(
    (e): e is string => !!e && e !== survivor.email && e !== filled.email,
  );
  if (extra.length > 0) {
    const known = survivor.hs_additional_emails?.split(';').filter(Boolean) ?? [];
    filled.hs_additional_emails = [...new Set([...known, ...extra])].join(';');
  }
  return makeProps(filled, survivor);
}
