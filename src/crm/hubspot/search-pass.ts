import type { HubSpotPage, HubSpotRecord, SearchRequest } from './client.js';

// The request the `search` callback of a pass receives: HubSpot's, declared with its client.
export type { SearchRequest };

/**
 * Where an incremental pass stands, persisted after every page: every contact with
 * lastmodifieddate < t has been read, and at t those with hs_object_id ≤ afterId ('0': none).
 * `crowded` means the pass was paging the instant t by id when it stopped.
 */
export interface SearchCursor {
  t: number;
  afterId: string;
  crowded?: boolean;
  /**
   * When the pass that wrote the cursor began, present while that was within the overlap of t:
   * contacts changed just before t may then have reached the index after that pass, and the
   * next pass must re-read the window however late it starts.
   */
  readAt?: number;
}

export interface SearchPage {
  records: HubSpotRecord[];
  cursor: SearchCursor;
  total?: number;
}

/** HubSpot's search refuses to page past this many results of one query. */
export const SEARCH_RESULT_CAP = 10_000;
export const SEARCH_PAGE_SIZE = 200;

type Query =
  | { kind: 'from'; t: number } // lastmodifieddate >= t, by lastmodifieddate
  | { kind: 'after'; t: number; afterId: string } // strictly after (t, afterId), by lastmodifieddate
  | { kind: 'instant'; t: number; afterId: string }; // lastmodifieddate = t and id > afterId, by id

const LMD = 'lastmodifieddate';
const ID = 'hs_object_id';

function request(query: Query, after: number): Omit<SearchRequest, 'limit'> {
  const byDate = [{ propertyName: LMD, direction: 'ASCENDING' as const }];
  const page = after > 0 ? { after: String(after) } : {};
  switch (query.kind) {
    case 'from':
      return { filterGroups: [{ filters: [{ propertyName: LMD, operator: 'GTE', value: String(query.t) }] }], sorts: byDate, ...page };
    case 'after':
      return {
        filterGroups: [
          { filters: [{ propertyName: LMD, operator: 'GT', value: String(query.t) }] },
          {
            filters: [
              { propertyName: LMD, operator: 'EQ', value: String(query.t) },
              { propertyName: ID, operator: 'GT', value: query.afterId },
            ],
          },
        ],
        sorts: byDate,
        ...page,
      };
    case 'instant':
      return {
        filterGroups: [
          {
            filters: [
              { propertyName: LMD, operator: 'EQ', value: String(query.t) },
              { propertyName: ID, operator: 'GT', value: query.afterId },
            ],
          },
        ],
        sorts: [{ propertyName: ID, direction: 'ASCENDING' }],
        ...page,
      };
  }
}

/** The later of two cursors; `a` on a tie. Cursors never move backwards. */
const later = (a: SearchCursor, b: SearchCursor): SearchCursor =>
  a.t !== b.t ? (a.t > b.t ? a : b) : BigInt(a.afterId) >= BigInt(b.afterId) ? a : b;

export const modifiedAt = (r: HubSpotRecord): number => {
  const raw = r.properties[LMD];
  const t = raw ? (/^\d+$/.test(raw) ? Number(raw) : Date.parse(raw)) : NaN;
  if (Number.isNaN(t)) throw new Error(`HubSpot contact ${r.id} has no readable lastmodifieddate (${String(raw)})`);
  return t;
};

/**
 * One incremental pass over HubSpot's search, page by page, that can neither loop nor miss a
 * contact although the search API stops at 10,000 results per query and lags writes:
 *
 * - A pass starts from the cursor. While its time is within `overlapMs` of now, the pass
 *   re-reads from `t - overlapMs`: the search index may not yet have held contacts changed
 *   just before t when the cursor was written. Re-reading is cheap: the mirror writer skips
 *   unchanged rows. An older cursor is queried strictly after (t, afterId), so a quiet account
 *   costs one request and a crowded instant is not re-read on every pass.
 * - A query that reaches the cap is replaced by one that pages the instant it reached by id
 *   (`lastmodifieddate = t AND hs_object_id > last`), however many contacts share it (bulk
 *   imports do), and then one strictly after that instant. Each new query starts past where the
 *   last one stopped, so the pass always moves forward.
 */
export async function* searchPass(
  search: (request: SearchRequest) => Promise<HubSpotPage>,
  start: SearchCursor,
  nowMs: number,
  overlapMs: number,
): AsyncGenerator<SearchPage> {
  let cursor = start;
  // A cursor without readAt was written at least the overlap after its time (or before readAt
  // existed, when the rule was the time of this pass).
  let query: Query = start.crowded
    ? { kind: 'instant', t: start.t, afterId: start.afterId }
    : (start.readAt ?? nowMs) - start.t < overlapMs
      ? { kind: 'from', t: start.t - overlapMs }
      : { kind: 'after', t: start.t, afterId: start.afterId };
  // Every cursor this pass hands out says when it was read, while that matters.
  const stamped = (c: SearchCursor): SearchCursor => {
    const { readAt: _previous, ...rest } = c;
    return nowMs - c.t < overlapMs ? { ...rest, readAt: nowMs } : rest;
  };

  for (;;) {
    let offset = 0;
    // The newest (t, id) this query has returned: complete once the query is exhausted.
    let newest: SearchCursor | undefined;
    for (;;) {
      const page = await search({ ...request(query, offset), limit: SEARCH_PAGE_SIZE });
      for (const r of page.results) {
        const seen = { t: modifiedAt(r), afterId: r.id };
        newest = newest ? later(newest, seen) : seen;
      }
      const next = page.nextAfter === undefined ? undefined : Number(page.nextAfter);
      const exhausted = next === undefined || page.results.length === 0;
      const capped = !exhausted && next! + SEARCH_PAGE_SIZE > SEARCH_RESULT_CAP;
      const last = page.results.at(-1);

      if (query.kind === 'instant') {
        const instant = query.t;
        const lastId = last?.id ?? query.afterId;
        // Exhausted: the whole instant has been read. Otherwise: up to lastId, still paging it.
        cursor = later(exhausted ? { t: instant, afterId: lastId } : { t: instant, afterId: lastId, crowded: true }, cursor);
        yield { records: page.results, cursor: stamped(cursor), total: page.total };
        if (exhausted || capped) {
          query = exhausted ? { kind: 'after', t: instant, afterId: lastId } : { kind: 'instant', t: instant, afterId: lastId };
          break;
        }
      } else if (exhausted) {
        if (newest) cursor = later(newest, cursor);
        yield { records: page.results, cursor: stamped(cursor), total: page.total };
        return;
      } else if (capped) {
        const instant = modifiedAt(last!);
        // Everything before the instant has been read; page the instant itself by id, from the
        // first id not known to be read.
        cursor = later({ t: instant, afterId: '0', crowded: true }, cursor);
        yield { records: page.results, cursor: stamped(cursor), total: page.total };
        query = { kind: 'instant', t: instant, afterId: cursor.t === instant ? cursor.afterId : '0' };
        break;
      } else {
        // Mid-query: ties at the last instant may continue on the next page, so only the
        // instants before it are complete.
        if (last) cursor = later(cursor, { t: modifiedAt(last), afterId: '0' });
        yield { records: page.results, cursor: stamped(cursor), total: page.total };
      }
      offset = next!;
    }
  }
}
