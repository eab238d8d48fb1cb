import { makeProps, type ContactVersion, type PropertyInput } from './contact.js';
import { objectNotFound } from './errors.js';
import { Prng } from './prng.js';
import { SearchIndex } from './search-index.js';
import { SortedChunks } from './sorted-chunks.js';

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

/**
 * One portal's contacts. Writes land in the list view at once and in the search index after the
 * lag (see SearchIndex). Every write makes a new immutable version.
 */
export class ContactStore {
  readonly search = new SearchIndex();
  private readonly current = new Map<number, ContactVersion>();
  private readonly live = new SortedChunks<ContactVersion>(byId);
  private readonly archived = new SortedChunks<ContactVersion>(byId);
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
    return v;
  }

  /** Merges `input` into the live contact. An empty input still bumps lastmodifieddate, as HubSpot's does. */
  update(id: number, input: PropertyInput, at = this.now()): ContactVersion {
    const prev = this.requireLive(id);
    const v = this.version(id, makeProps(input, prev.props), prev.createdAt, at, null);
    this.current.set(id, v);
    this.live.replace(prev, v);
    this.search.enqueue(v, this.now() + this.options.searchLagMs());
    return v;
  }

  archive(id: number, at = this.now()): ContactVersion {
    const prev = this.requireLive(id);
    const v = this.version(id, prev.props, prev.createdAt, at, at);
    this.current.set(id, v);
    this.live.remove(prev);
    this.archived.insert(v);
    this.search.enqueue(v, this.now() + this.options.searchLagMs());
    return v;
  }

  /** The latest version, archived or not. */
  get(id: number): ContactVersion | undefined {
    return this.current.get(id);
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

  private version(id: number, props: ContactVersion['props'], createdAt: number, updatedAt: number, archivedAt: number | null): ContactVersion {
    return { id, props, createdAt, updatedAt, archivedAt };
  }
}
