import { isEditableProperty, isKnownProperty, type ContactVersion, type EditableProperty } from './contact.js';
import { searchWindowError, validationError } from './errors.js';

/**
 * Parses and checks the body of POST /crm/v3/objects/contacts/search into a plan the executor runs.
 * Anything the simulator cannot answer faithfully is refused with a 400 rather than answered wrongly.
 */

/** HubSpot never returns results past this many for one query. */
export const SEARCH_WINDOW = 10_000;
export const SEARCH_MAX_LIMIT = 200;
const MAX_GROUPS = 5;
const MAX_FILTERS_PER_GROUP = 6;
const MAX_FILTERS = 18;

/** Properties held as numbers (ids and instants): these get ranges and index scans. */
export type NumericProperty = 'hs_object_id' | 'createdate' | 'lastmodifieddate';

export const numericValue: Record<NumericProperty, (c: ContactVersion) => number> = {
  hs_object_id: (c) => c.id,
  createdate: (c) => c.createdAt,
  lastmodifieddate: (c) => c.updatedAt,
};

function isNumericProperty(name: string): name is NumericProperty {
  return name in numericValue;
}

export interface CompiledFilter {
  property: string;
  /** Set when the filter is exactly "value in [lo, hi]" of a numeric property (integer bounds). */
  range?: { lo: number; hi: number };
  test(c: ContactVersion): boolean;
}

export interface SearchPlan {
  /** ORed groups of ANDed filters; empty means "everything". */
  groups: CompiledFilter[][];
  sort: { property: string; descending: boolean };
  properties?: string[];
  limit: number;
  offset: number;
}

export function parseSearchRequest(raw: unknown): SearchPlan {
  const body = (raw ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body)) throw validationError('The request body must be a JSON object.');
  if (typeof body.query === 'string' && body.query.trim() !== '') {
    throw validationError('The simulator does not implement free-text `query`; use filterGroups.');
  }

  const limit = integerField(body.limit, 'limit', 10);
  if (limit < 0 || limit > SEARCH_MAX_LIMIT) throw validationError(`limit must be between 0 and ${SEARCH_MAX_LIMIT}; got ${limit}.`);
  const offset = integerField(body.after, 'after', 0);
  if (offset < 0) throw validationError(`after must not be negative; got ${offset}.`);
  if (offset + limit > SEARCH_WINDOW) throw searchWindowError();

  return {
    groups: parseGroups(body.filterGroups),
    sort: parseSorts(body.sorts),
    properties: parseProperties(body.properties),
    limit,
    offset,
  };
}

function integerField(v: unknown, name: string, fallback: number): number {
  if (v === undefined || v === null || v === '') return fallback;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw validationError(`${name} must be an integer; got ${JSON.stringify(v)}.`);
  return n;
}

function parseProperties(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((p) => typeof p !== 'string')) throw validationError('properties must be an array of strings.');
  return v.length === 0 ? undefined : (v as string[]);
}

/** Accepts both forms the official client passes: {propertyName, direction} and "name" / "-name". */
function parseSorts(v: unknown): SearchPlan['sort'] {
  if (v === undefined || v === null) return { property: 'hs_object_id', descending: false };
  if (!Array.isArray(v)) throw validationError('sorts must be an array.');
  // HubSpot sorts by one property; the first is the one that counts.
  const first = v[0] as unknown;
  if (first === undefined) return { property: 'hs_object_id', descending: false };
  let property: string;
  let descending: boolean;
  if (typeof first === 'string') {
    descending = first.startsWith('-');
    property = descending ? first.slice(1) : first;
  } else if (first && typeof first === 'object' && typeof (first as { propertyName?: unknown }).propertyName === 'string') {
    const s = first as { propertyName: string; direction?: unknown };
    property = s.propertyName;
    if (s.direction !== undefined && s.direction !== 'ASCENDING' && s.direction !== 'DESCENDING') {
      throw validationError(`Unknown sort direction ${JSON.stringify(s.direction)}; use ASCENDING or DESCENDING.`);
    }
    descending = s.direction === 'DESCENDING';
  } else {
    throw validationError('Each sort must be a property name or {propertyName, direction}.');
  }
  if (!isKnownProperty(property)) throw validationError(`Cannot sort by unknown property ${property}.`);
  return { property, descending };
}

function parseGroups(v: unknown): CompiledFilter[][] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw validationError('filterGroups must be an array.');
  if (v.length > MAX_GROUPS) throw validationError(`Too many filter groups (${v.length}); the maximum is ${MAX_GROUPS}.`);
  let total = 0;
  const groups = v.map((g: unknown) => {
    const filters = (g as { filters?: unknown } | null)?.filters;
    if (!Array.isArray(filters)) throw validationError('Each filter group needs a filters array.');
    if (filters.length > MAX_FILTERS_PER_GROUP) {
      throw validationError(`Too many filters in a group (${filters.length}); the maximum is ${MAX_FILTERS_PER_GROUP}.`);
    }
    total += filters.length;
    return filters.map(compileFilter);
  });
  if (total > MAX_FILTERS) throw validationError(`Too many filters (${total}); the maximum is ${MAX_FILTERS}.`);
  // A group without filters matches everything, as an absent filterGroups does.
  return groups.some((g) => g.length === 0) ? [] : groups;
}

function compileFilter(raw: unknown): CompiledFilter {
  const f = (raw ?? {}) as { propertyName?: unknown; operator?: unknown; value?: unknown; highValue?: unknown; values?: unknown };
  if (typeof f.propertyName !== 'string' || typeof f.operator !== 'string') {
    throw validationError('Each filter needs a propertyName and an operator.');
  }
  const property = f.propertyName;
  if (!isKnownProperty(property)) throw validationError(`Cannot filter on unknown property ${property}.`);
  if (isNumericProperty(property)) return compileNumeric(property, f.operator, f);
  if (isEditableProperty(property)) return compileText(property, f.operator, f);
  throw validationError(`Cannot filter on ${property}.`);
}

function compileNumeric(property: NumericProperty, operator: string, f: { value?: unknown; highValue?: unknown; values?: unknown }): CompiledFilter {
  const get = numericValue[property];
  const parse = (v: unknown) => parseNumeric(property, v);
  const ranged = (lo: number, hi: number): CompiledFilter => ({
    property,
    range: { lo, hi },
    test: (c) => {
      const x = get(c);
      return x >= lo && x <= hi;
    },
  });
  // Values are whole ms or whole ids, so strict bounds become inclusive integer ones.
  switch (operator) {
    case 'EQ': {
      const v = parse(f.value);
      return Number.isInteger(v) ? ranged(v, v) : ranged(1, 0);
    }
    case 'GT':
      return ranged(Math.floor(parse(f.value)) + 1, Infinity);
    case 'GTE':
      return ranged(Math.ceil(parse(f.value)), Infinity);
    case 'LT':
      return ranged(-Infinity, Math.ceil(parse(f.value)) - 1);
    case 'LTE':
      return ranged(-Infinity, Math.floor(parse(f.value)));
    case 'BETWEEN':
      return ranged(Math.ceil(parse(f.value)), Math.floor(parse(f.highValue)));
    case 'NEQ': {
      const v = parse(f.value);
      return { property, test: (c) => get(c) !== v };
    }
    case 'IN':
    case 'NOT_IN': {
      const set = new Set(valuesOf(f.values).map(parse));
      const inSet = operator === 'IN';
      return { property, test: (c) => set.has(get(c)) === inSet };
    }
    // System properties always have a value.
    case 'HAS_PROPERTY':
      return { property, test: () => true };
    case 'NOT_HAS_PROPERTY':
      return { property, test: () => false };
    default:
      throw validationError(`The simulator does not implement operator ${operator} on ${property}.`);
  }
}

/** Text comparisons in HubSpot search ignore case. */
function compileText(property: EditableProperty, operator: string, f: { value?: unknown; values?: unknown }): CompiledFilter {
  const get = (c: ContactVersion) => c.props[property];
  const has = (c: ContactVersion) => {
    const v = get(c);
    return v !== null && v !== '';
  };
  switch (operator) {
    case 'EQ':
    case 'NEQ': {
      if (typeof f.value !== 'string') throw validationError(`${operator} on ${property} needs a string value.`);
      const want = f.value.toLowerCase();
      const eq = operator === 'EQ';
      return { property, test: (c) => (get(c)?.toLowerCase() === want) === eq };
    }
    case 'IN':
    case 'NOT_IN': {
      const set = new Set(valuesOf(f.values).map((v) => String(v).toLowerCase()));
      const inSet = operator === 'IN';
      return { property, test: (c) => set.has(get(c)?.toLowerCase() ?? '\u0000') === inSet };
    }
    case 'HAS_PROPERTY':
      return { property, test: has };
    case 'NOT_HAS_PROPERTY':
      return { property, test: (c) => !has(c) };
    default:
      throw validationError(`The simulator does not implement operator ${operator} on ${property}.`);
  }
}

function valuesOf(v: unknown): unknown[] {
  if (!Array.isArray(v)) throw validationError('IN and NOT_IN need a values array.');
  return v;
}

/** Instants may come as epoch ms (HubSpot's documented form) or ISO 8601; ids as digits. */
function parseNumeric(property: NumericProperty, v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const s = v.trim();
    if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
    if (property !== 'hs_object_id') {
      const ms = Date.parse(s);
      if (!Number.isNaN(ms)) return ms;
    }
  }
  throw validationError(`${JSON.stringify(v)} is not a valid value for ${property}.`);
}
