/**
 * An ordered multiset of items keyed by a pair of numbers, kept as a list of sorted chunks.
 *
 * A flat sorted array costs O(n) per insert at a million contacts, and re-sorting per request
 * costs O(n log n); chunks keep inserts and removals at O(log n + chunk) and still allow
 * rank arithmetic (how many items lie in a key range) in O(n / chunk) without touching items.
 */
/** The sort key: `major` first, `minor` breaking ties. Two functions, not a tuple, so hot loops allocate nothing. */
export interface Keys<T> {
  major(item: T): number;
  minor(item: T): number;
}

const CHUNK = 1024;

export class SortedChunks<T> {
  private chunks: T[][] = [];
  private count = 0;

  constructor(private readonly keys: Keys<T>) {}

  get size(): number {
    return this.count;
  }

  /** Replaces the contents with `items`, sorting them once: cheaper than n inserts for bulk loads. */
  load(items: T[]): void {
    const { major, minor } = this.keys;
    const sorted = [...items].sort((x, y) => major(x) - major(y) || minor(x) - minor(y));
    this.chunks = [];
    for (let i = 0; i < sorted.length; i += CHUNK) this.chunks.push(sorted.slice(i, i + CHUNK));
    this.count = items.length;
  }

  toArray(): T[] {
    return this.chunks.flat();
  }

  insert(item: T): void {
    const a = this.keys.major(item);
    const b = this.keys.minor(item);
    if (this.chunks.length === 0) {
      this.chunks.push([item]);
      this.count = 1;
      return;
    }
    // The first chunk whose last key is above the new key; else the last chunk (appends).
    let ci = this.chunkAfter(a, b);
    if (ci === this.chunks.length) ci--;
    const chunk = this.chunks[ci]!;
    chunk.splice(this.indexAfter(chunk, a, b), 0, item);
    this.count++;
    if (chunk.length > 2 * CHUNK) this.chunks.splice(ci, 1, chunk.slice(0, CHUNK), chunk.slice(CHUNK));
  }

  /** Removes the item identical (===) to `item`; its key must be the one it was inserted with. */
  remove(item: T): boolean {
    const loc = this.locate(item);
    if (!loc) return false;
    const chunk = this.chunks[loc[0]]!;
    chunk.splice(loc[1], 1);
    if (chunk.length === 0) this.chunks.splice(loc[0], 1);
    this.count--;
    return true;
  }

  /** Swaps `next` in for `prev` where both have the same key: no reordering needed. */
  replace(prev: T, next: T): boolean {
    const loc = this.locate(prev);
    if (!loc) return false;
    this.chunks[loc[0]]![loc[1]] = next;
    return true;
  }

  /** Rank of the first item whose key is >= (a, b). Pass b = ±Infinity to bound on `a` alone. */
  lowerBound(a: number, b: number): number {
    const ci = this.chunkAtOrAfter(a, b);
    let rank = 0;
    for (let i = 0; i < ci; i++) rank += this.chunks[i]!.length;
    if (ci < this.chunks.length) rank += this.indexAtOrAfter(this.chunks[ci]!, a, b);
    return rank;
  }

  at(rank: number): T | undefined {
    if (rank < 0 || rank >= this.count) return undefined;
    for (const chunk of this.chunks) {
      if (rank < chunk.length) return chunk[rank];
      rank -= chunk.length;
    }
    return undefined;
  }

  /**
   * Visits items from `rank` upward (or downward), while `visit` returns true. Skipping to `rank`
   * walks chunk lengths only, so a deep offset costs O(n / chunk), not O(offset).
   */
  scan(rank: number, direction: 1 | -1, visit: (item: T) => boolean): void {
    if (rank < 0 || rank >= this.count) return;
    let ci = 0;
    while (rank >= this.chunks[ci]!.length) {
      rank -= this.chunks[ci]!.length;
      ci++;
    }
    let i = rank;
    while (ci >= 0 && ci < this.chunks.length) {
      const chunk = this.chunks[ci]!;
      for (; i >= 0 && i < chunk.length; i += direction) {
        if (!visit(chunk[i]!)) return;
      }
      ci += direction;
      i = direction === 1 ? 0 : (this.chunks[ci]?.length ?? 0) - 1;
    }
  }

  /** Equal keys may span chunks, so the search for the identical item may run on past one. */
  private locate(item: T): [number, number] | undefined {
    const a = this.keys.major(item);
    const b = this.keys.minor(item);
    const first = this.chunkAtOrAfter(a, b);
    for (let ci = first; ci < this.chunks.length; ci++) {
      const chunk = this.chunks[ci]!;
      for (let i = ci === first ? this.indexAtOrAfter(chunk, a, b) : 0; i < chunk.length; i++) {
        const other = chunk[i]!;
        if (other === item) return [ci, i];
        if (this.cmp(other, a, b) !== 0) return undefined;
      }
    }
    return undefined;
  }

  private cmp(item: T, a: number, b: number): number {
    return this.keys.major(item) - a || this.keys.minor(item) - b;
  }

  /** First chunk whose last item is >= (a, b). */
  private chunkAtOrAfter(a: number, b: number): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (this.cmp(chunk[chunk.length - 1]!, a, b) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First chunk whose last item is > (a, b). */
  private chunkAfter(a: number, b: number): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (this.cmp(chunk[chunk.length - 1]!, a, b) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private indexAtOrAfter(chunk: T[], a: number, b: number): number {
    let lo = 0;
    let hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cmp(chunk[mid]!, a, b) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private indexAfter(chunk: T[], a: number, b: number): number {
    let lo = 0;
    let hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cmp(chunk[mid]!, a, b) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
