import type { ContactVersion } from './contact.js';
import { SortedChunks } from './sorted-chunks.js';

/**
 * What the search endpoint sees: the contacts as they were `lag` ms ago.
 *
 * HubSpot's search reads an index that trails writes by a few seconds, while the object list reads
 * the source of truth. A sync that trusts search to have seen a write it just made, or that stops
 * at "now", loses changes; the lag here makes such a bug show up in tests.
 */
export class SearchIndex {
  /** By (lastmodifieddate, id): the index incremental syncs page through. */
  readonly byModified = new SortedChunks<ContactVersion>({ major: (c) => c.updatedAt, minor: (c) => c.id });
  readonly byId = new SortedChunks<ContactVersion>({ major: (c) => c.id, minor: () => 0 });
  private readonly visible = new Map<number, ContactVersion>();
  /** Versions waiting for their turn, in the order they were written. */
  private pending: { at: number; version: ContactVersion }[] = [];
  private head = 0;

  get size(): number {
    return this.visible.size;
  }

  /** Makes `versions` visible at once, as if indexed long ago: for seeding a portal. */
  load(versions: Iterable<ContactVersion>): void {
    for (const v of versions) {
      if (v.archivedAt === null) this.visible.set(v.id, v);
      else this.visible.delete(v.id);
    }
    this.rebuild();
  }

  /**
   * Queues a write to become visible at `visibleAt`. Writes come in clock order, so the queue is
   * in visibility order while the lag stays the same; after a lag change, a write can wait behind an
   * earlier one for at most the difference.
   */
  enqueue(version: ContactVersion, visibleAt: number): void {
    this.pending.push({ at: visibleAt, version });
  }

  /** Applies every queued write whose time has come; called before each search. */
  catchUp(now: number): void {
    let end = this.head;
    while (end < this.pending.length && this.pending[end]!.at <= now) end++;
    if (end === this.head) return;
    const due = this.pending.slice(this.head, end);
    this.head = end;
    if (this.head > 4096 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    // A large batch (a bulk import) is cheaper to apply by one sort than by many inserts.
    if (due.length > 50_000 && due.length * 4 > this.visible.size) {
      for (const { version } of due) {
        if (version.archivedAt === null) this.visible.set(version.id, version);
        else this.visible.delete(version.id);
      }
      this.rebuild();
      return;
    }
    for (const { version } of due) this.apply(version);
  }

  /** Writes not yet visible, for stats and for tests that wait for the index. */
  get backlog(): number {
    return this.pending.length - this.head;
  }

  /** When the last queued write becomes visible (or undefined when nothing is queued). */
  get settlesAt(): number | undefined {
    return this.backlog > 0 ? this.pending[this.pending.length - 1]!.at : undefined;
  }

  private apply(version: ContactVersion): void {
    const prev = this.visible.get(version.id);
    if (prev) {
      this.byModified.remove(prev);
      if (version.archivedAt === null) this.byId.replace(prev, version);
      else this.byId.remove(prev);
    } else if (version.archivedAt === null) {
      this.byId.insert(version);
    }
    if (version.archivedAt === null) {
      this.byModified.insert(version);
      this.visible.set(version.id, version);
    } else {
      this.visible.delete(version.id);
    }
  }

  private rebuild(): void {
    const all = [...this.visible.values()];
    this.byModified.load(all);
    this.byId.load(all);
  }
}
