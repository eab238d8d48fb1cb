import { badRequest } from './errors.js';

/** What a listed record has for sorting and filtering; times are epoch seconds, as Pipedrive keeps them. */
export interface Listed {
  id: number;
  add_time: number;
  update_time: number;
}

export type SortField = 'id' | 'update_time' | 'add_time';
export type SortDirection = 'asc' | 'desc';

export interface ListQuery {
  ids?: number[];
  /** Inclusive, as Pipedrive's `updated_since`. */
  updatedSince?: number;
  /** Exclusive, as Pipedrive's `updated_until`. */
  updatedUntil?: number;
  sortBy: SortField;
  direction: SortDirection;
  limit: number;
  cursor?: string;
}

export interface ListPage<T> {
  data: T[];
  nextCursor: string | null;
}

/** The largest page and the most ids one call may name, as on Pipedrive. */
export const MAX_LIMIT = 500;
export const MAX_IDS = 100;

interface CursorKey {
  s: SortField;
  d: SortDirection;
  k: number;
  id: number;
}

/**
 * A real keyset cursor, opaque to the client: the sort and the key of the last item served, so
 * that records added or changed between pages shift nothing already read, as Pipedrive's cursors
 * behave. A cursor made for another sort is refused.
 */
export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeCursor(raw: string, sortBy: SortField, direction: SortDirection): CursorKey {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('Invalid cursor');
  }
  const k = key as Partial<CursorKey> | null;
  if (typeof k?.k !== 'number' || typeof k.id !== 'number' || k.s !== sortBy || k.d !== direction) throw badRequest('Invalid cursor');
  return k as CursorKey;
}

/** One page of `items` for a list query: filter, sort by (field, id), keyset after the cursor. */
export function listPage<T extends Listed>(items: Iterable<T>, q: ListQuery): ListPage<T> {
  const ids = q.ids === undefined ? undefined : new Set(q.ids);
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, q.sortBy, q.direction);
  const sign = q.direction === 'asc' ? 1 : -1;
  const compare = (a: T, b: { k: number; id: number }) => sign * (a[q.sortBy] - b.k || a.id - b.id);
  const matching: T[] = [];
  for (const item of items) {
    if (ids && !ids.has(item.id)) continue;
    if (q.updatedSince !== undefined && item.update_time < q.updatedSince) continue;
    if (q.updatedUntil !== undefined && item.update_time >= q.updatedUntil) continue;
    if (after && compare(item, after) <= 0) continue;
    matching.push(item);
  }
  matching.sort((a, b) => compare(a, { k: b[q.sortBy], id: b.id }));
  const data = matching.slice(0, q.limit);
  const last = data.at(-1);
  const nextCursor = matching.length > q.limit && last ? encodeCursor({ s: q.sortBy, d: q.direction, k: last[q.sortBy], id: last.id }) : null;
  return { data, nextCursor };
}

/** Pipedrive's query parameters → a ListQuery; 400 for what Pipedrive refuses. */
export function parseListQuery(raw: Record<string, string | string[] | undefined>): ListQuery {
  const one = (name: string): string | undefined => {
    const v = raw[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const limitRaw = one('limit');
  const limit = limitRaw === undefined ? 100 : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw badRequest(`Validation failed: limit: Parameter must be an integer between 1 and ${MAX_LIMIT}`);
  }
  const sortBy = (one('sort_by') ?? 'id') as SortField;
  if (!['id', 'update_time', 'add_time'].includes(sortBy)) throw badRequest('Validation failed: sort_by: must be one of id, update_time, add_time');
  const direction = (one('sort_direction') ?? 'asc') as SortDirection;
  if (direction !== 'asc' && direction !== 'desc') throw badRequest('Validation failed: sort_direction: must be one of asc, desc');
  const q: ListQuery = { sortBy, direction, limit };
  const idsRaw = one('ids');
  if (idsRaw !== undefined) {
    const ids = idsRaw.split(',').map((s) => Number(s.trim()));
    if (ids.some((id) => !Number.isSafeInteger(id) || id < 1)) throw badRequest('Validation failed: ids: must be comma-separated integers');
    if (ids.length > MAX_IDS) throw badRequest(`Validation failed: ids: at most ${MAX_IDS} ids`);
    q.ids = ids;
  }
  const since = time(one('updated_since'), 'updated_since');
  if (since !== undefined) q.updatedSince = since;
  const until = time(one('updated_until'), 'updated_until');
  if (until !== undefined) q.updatedUntil = until;
  const cursor = one('cursor');
  if (cursor !== undefined && cursor !== '') q.cursor = cursor;
  return q;
}

/** An RFC 3339 time → epoch seconds (Pipedrive's precision: a fraction is dropped). */
function time(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw badRequest(`Validation failed: ${name}: must be an RFC 3339 date-time, e.g. 2025-01-01T10:20:00Z`);
  return Math.floor(ms / 1000);
}

/** Epoch seconds → Pipedrive's `2025-01-01T10:20:00Z`. */
export function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
