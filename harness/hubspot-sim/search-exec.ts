import { propertyValue, type ContactVersion } from './contact.js';
import type { SearchIndex } from './search-index.js';
import { numericValue, type CompiledFilter, type NumericProperty, type SearchPlan } from './search-request.js';
import type { SortedChunks } from './sorted-chunks.js';

export interface SearchOutcome {
  total: number;
  results: ContactVersion[];
  /** The `after` of the next page, when more results exist. */
  nextOffset?: number;
}

/**
 * Runs a search against the index. Sorting by lastmodifieddate or hs_object_id walks the matching
 * index over the key range the filters allow; when the filters are nothing but that range (an
 * incremental sync's query), the total is rank arithmetic and only the page itself is read.
 * Other sorts collect the matches and sort them: correct, but O(m log m).
 */
export function runSearch(index: SearchIndex, plan: SearchPlan): SearchOutcome {
  const { sort } = plan;
  if (sort.property === 'lastmodifieddate') return scanIndexed(index.byModified, 'lastmodifieddate', plan);
  if (sort.property === 'hs_object_id') return scanIndexed(index.byId, 'hs_object_id', plan);
  return sortMatches(index, plan);
}

function matches(groups: CompiledFilter[][], c: ContactVersion): boolean {
  if (groups.length === 0) return true;
  for (const g of groups) {
    let all = true;
    for (const f of g) {
      if (!f.test(c)) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

/** The smallest closed range of `property` that holds every match (the union of each group's range). */
function keyRange(groups: CompiledFilter[][], property: string): { lo: number; hi: number; exact: boolean } {
  if (groups.length === 0) return { lo: -Infinity, hi: Infinity, exact: true };
  let lo = Infinity;
  let hi = -Infinity;
  for (const g of groups) {
    let glo = -Infinity;
    let ghi = Infinity;
    for (const f of g) {
      if (f.property === property && f.range) {
        glo = Math.max(glo, f.range.lo);
        ghi = Math.min(ghi, f.range.hi);
      }
    }
    if (glo > ghi) continue; // this group matches nothing
    lo = Math.min(lo, glo);
    hi = Math.max(hi, ghi);
  }
  // Exact: one group whose filters are all ranges on the key, so the range is the match set.
  const only = groups[0]!;
  const exact = groups.length === 1 && only.every((f) => f.property === property && f.range !== undefined);
  return { lo, hi, exact };
}

function scanIndexed(list: SortedChunks<ContactVersion>, property: NumericProperty, plan: SearchPlan): SearchOutcome {
  const { lo, hi, exact } = keyRange(plan.groups, property);
  const results: ContactVersion[] = [];
  if (lo > hi) return { total: 0, results };
  const start = list.lowerBound(lo, -Infinity);
  const end = list.lowerBound(hi, Infinity);
  const { offset, limit } = plan;
  let seen = 0;
  const visit = (c: ContactVersion): boolean => {
    if (!exact && !matches(plan.groups, c)) return true;
    if (seen >= offset && seen < offset + limit) results.push(c);
    seen++;
    // With the total known from ranks, stop once the page is full; otherwise count to the end.
    return !(exact && seen >= offset + limit);
  };
  walk(list, numericValue[property], start, end, plan.sort.descending, visit);
  const total = exact ? Math.max(0, end - start) : seen;
  return total > offset + limit ? { total, results, nextOffset: offset + limit } : { total, results };
}

/**
 * Visits ranks [start, end) in key order, or in reverse key order with equal keys still in id order
 * (HubSpot breaks ties by id ascending either way): a descending walk buffers each run of equal keys.
 */
function walk(
  list: SortedChunks<ContactVersion>,
  key: (c: ContactVersion) => number,
  start: number,
  end: number,
  descending: boolean,
  visit: (c: ContactVersion) => boolean,
): void {
  let left = end - start;
  if (left <= 0) return;
  if (!descending) {
    list.scan(start, 1, (c) => visit(c) && --left > 0);
    return;
  }
  let run: ContactVersion[] = [];
  let stopped = false;
  const flush = (): boolean => {
    for (let i = run.length - 1; i >= 0; i--) {
      if (!visit(run[i]!)) return false;
    }
    run = [];
    return true;
  };
  list.scan(end - 1, -1, (c) => {
    if (run.length > 0 && key(run[0]!) !== key(c) && !flush()) {
      stopped = true;
      return false;
    }
    run.push(c);
    return --left > 0;
  });
  if (!stopped) flush();
}

function sortMatches(index: SearchIndex, plan: SearchPlan): SearchOutcome {
  const all: ContactVersion[] = [];
  index.byId.scan(0, 1, (c) => {
    if (matches(plan.groups, c)) all.push(c);
    return true;
  });
  const { property, descending } = plan.sort;
  const sign = descending ? -1 : 1;
  const numeric = (numericValue as Record<string, ((c: ContactVersion) => number) | undefined>)[property];
  if (numeric) {
    all.sort((a, b) => sign * (numeric(a) - numeric(b)) || a.id - b.id);
  } else {
    // Text sorts: empty values last in either direction.
    all.sort((a, b) => {
      const x = propertyValue(a, property) || null;
      const y = propertyValue(b, property) || null;
      if (x === y) return a.id - b.id;
      if (x === null) return 1;
      if (y === null) return -1;
      return sign * x.localeCompare(y) || a.id - b.id;
    });
  }
  const results = all.slice(plan.offset, plan.offset + plan.limit);
  const total = all.length;
  return total > plan.offset + plan.limit ? { total, results, nextOffset: plan.offset + plan.limit } : { total, results };
}
