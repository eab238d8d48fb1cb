import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_PROPERTIES, parsePropertyInput, toApiContact, type ContactVersion } from './contact.js';
import { objectNotFound, validationError } from './errors.js';
import { batchRead } from './batch-read.js';
import type { EndpointName } from './faults.js';
import type { Portal } from './portals.js';
import { runSearch } from './search-exec.js';
import { parseSearchRequest } from './search-request.js';

/**
 * HubSpot's CRM v3 contact endpoints and the account-details endpoint, with the response shapes
 * the official client deserialises. The gateway has authenticated the request by the time a
 * handler runs; `portalOf` says as which portal.
 */

const LIST_MAX_LIMIT = 100;

type Query = Record<string, string | string[] | undefined>;

export interface CrmRouteDeps {
  portalOf: (request: FastifyRequest) => Portal;
  clock: () => number;
}

interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  endpoint: EndpointName;
}

export const CRM_ROUTES: readonly Route[] = [
  { method: 'GET', url: '/account-info/v3/details', endpoint: 'account-info' },
  { method: 'GET', url: '/crm/v3/objects/contacts', endpoint: 'contacts.list' },
  { method: 'POST', url: '/crm/v3/objects/contacts/search', endpoint: 'contacts.search' },
  { method: 'POST', url: '/crm/v3/objects/contacts/batch/read', endpoint: 'contacts.batch-read' },
  { method: 'GET', url: '/crm/v3/objects/contacts/:contactId', endpoint: 'contacts.get' },
  { method: 'POST', url: '/crm/v3/objects/contacts', endpoint: 'contacts.create' },
  { method: 'PATCH', url: '/crm/v3/objects/contacts/:contactId', endpoint: 'contacts.update' },
  { method: 'DELETE', url: '/crm/v3/objects/contacts/:contactId', endpoint: 'contacts.archive' },
];

const BY_ROUTE = new Map(CRM_ROUTES.map((r) => [`${r.method} ${r.url}`, r.endpoint]));

export function endpointOf(method: string, routeUrl: string | undefined): EndpointName | undefined {
  return routeUrl === undefined ? undefined : BY_ROUTE.get(`${method} ${routeUrl}`);
}

export function registerCrmRoutes(app: FastifyInstance, { portalOf, clock }: CrmRouteDeps): void {
  app.get('/account-info/v3/details', async (request) => ({
    portalId: portalOf(request).id,
    accountType: 'STANDARD',
    timeZone: 'US/Eastern',
    companyCurrency: 'USD',
    additionalCurrencies: [],
    utcOffset: '-05:00',
    utcOffsetMilliseconds: -18_000_000,
    uiDomain: 'app.hubspot.com',
    dataHostingLocation: 'na1',
  }));

  app.get('/crm/v3/objects/contacts', async (request) => {
    const { store } = portalOf(request);
    const query = request.query as Query;
    const limit = listLimit(single(query.limit));
    const after = single(query.after);
    const fromId = after === undefined || after === '' ? 0 : decodeCursor(after);
    const archived = booleanParam(single(query.archived), 'archived');
    const properties = propertyList(query.properties);
    const page = store.page(fromId, limit, archived);
    const body: { results: unknown[]; paging?: { next: { after: string; link: string } } } = {
      results: page.items.map((c) => toApiContact(c, properties)),
    };
    if (page.resumeFrom !== undefined) {
      const next = encodeCursor(page.resumeFrom);
      body.paging = { next: { after: next, link: nextLink(request, next) } };
    }
    return body;
  });

  app.post('/crm/v3/objects/contacts/search', async (request) => {
    const { store } = portalOf(request);
    const plan = parseSearchRequest(request.body);
    store.search.catchUp(clock());
    const outcome = runSearch(store.search, plan);
    const body: { total: number; results: unknown[]; paging?: { next: { after: string } } } = {
      total: outcome.total,
      results: outcome.results.map((c) => toApiContact(c, plan.properties)),
    };
    if (outcome.nextOffset !== undefined) body.paging = { next: { after: String(outcome.nextOffset) } };
    return body;
  });

  app.post('/crm/v3/objects/contacts/batch/read', async (request, reply) => {
    const { store } = portalOf(request);
    const archived = booleanParam(single((request.query as Query).archived), 'archived');
    const answer = batchRead(store, request.body, archived, clock());
    return reply.code(answer.status).send(answer.body);
  });

  app.get('/crm/v3/objects/contacts/:contactId', async (request) => {
    const { store } = portalOf(request);
    const { contactId } = request.params as { contactId: string };
    const query = request.query as Query;
    const archived = booleanParam(single(query.archived), 'archived');
    // An id merged into another contact reads as that contact (whose own id the answer carries).
    const c = /^\d+$/.test(contactId) ? store.resolve(Number(contactId)) : undefined;
    if (!c || (c.archivedAt !== null) !== archived) throw objectNotFound(contactId);
    return toApiContact(c, propertyList(query.properties));
  });

  app.post('/crm/v3/objects/contacts', async (request, reply: FastifyReply) => {
    const { store } = portalOf(request);
    const input = parsePropertyInput((request.body as { properties?: unknown } | null)?.properties ?? {});
    const c = store.create(input);
    return reply.code(201).send(toApiContact(c, writtenNames(input)));
  });

  app.patch('/crm/v3/objects/contacts/:contactId', async (request) => {
    const { store } = portalOf(request);
    const { contactId } = request.params as { contactId: string };
    const input = parsePropertyInput((request.body as { properties?: unknown } | null)?.properties ?? {});
    if (!/^\d+$/.test(contactId)) throw objectNotFound(contactId);
    return toApiContact(store.update(Number(contactId), input), writtenNames(input));
  });

  app.delete('/crm/v3/objects/contacts/:contactId', async (request, reply) => {
    const { store } = portalOf(request);
    const { contactId } = request.params as { contactId: string };
    // HubSpot answers 204 for an id that is already gone, too.
    const c: ContactVersion | undefined = /^\d+$/.test(contactId) ? store.get(Number(contactId)) : undefined;
    if (c && c.archivedAt === null) store.archive(c.id);
    return reply.code(204).send();
  });
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** HubSpot serves at most 100 per page and quietly caps a larger limit. */
function listLimit(v: string | undefined): number {
  if (v === undefined || v === '') return 10;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw validationError(`limit must be a positive integer; got ${JSON.stringify(v)}.`);
  return Math.min(Number(v), LIST_MAX_LIMIT);
}

function booleanParam(v: string | undefined, name: string): boolean {
  if (v === undefined || v === '' || v === 'false') return false;
  if (v === 'true') return true;
  throw validationError(`${name} must be true or false; got ${JSON.stringify(v)}.`);
}

/** `properties` comes repeated (as the official client sends it) or comma-separated, or both. */
function propertyList(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const names = (Array.isArray(v) ? v : [v])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return names.length === 0 ? undefined : names;
}

function writtenNames(input: object): string[] {
  return [...new Set([...DEFAULT_PROPERTIES, ...Object.keys(input)])];
}

/**
 * The list cursor is opaque to clients. It has HubSpot's form (base64 of the next id and a
 * newline, e.g. "NTI1Cg=="), so code that treats it as a number breaks here as it would there.
 * A bare id is accepted too, as HubSpot does.
 */
export function encodeCursor(nextId: number): string {
  return Buffer.from(`${nextId}\n`).toString('base64');
}

export function decodeCursor(after: string): number {
  if (/^\d+$/.test(after)) return Number(after);
  const decoded = Buffer.from(after, 'base64').toString('utf8');
  const m = /^(\d+)\n?$/.exec(decoded);
  if (!m) throw validationError(`after is not a valid paging cursor: ${JSON.stringify(after)}.`);
  return Number(m[1]);
}

function nextLink(request: FastifyRequest, after: string): string {
  const url = new URL(request.url, `${request.protocol}://${request.host}`);
  url.searchParams.set('after', after);
  return url.toString();
}
