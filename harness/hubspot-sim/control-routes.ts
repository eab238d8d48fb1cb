import type { FastifyInstance } from 'fastify';
import type { PropertyInput } from './contact.js';
import type { SimControl } from './control.js';
import { validationError, type RateLimitPolicy } from './errors.js';
import { isEndpointName, type FaultScope } from './faults.js';
import type { RateLimits } from './rate-limit.js';

/**
 * The control object over HTTP, for a sync running in another process (the demo, out-of-process
 * tests). JSON in, JSON out; errors are HubSpot-shaped 400s. These routes pass no gateway: no
 * token, no limits, not counted in stats. Apps, OAuth and webhooks: app-control-routes.ts.
 *
 * Contacts: GET /__sim/contacts[?archived=true], GET /__sim/contacts/:id, POST /__sim/contacts
 * {contacts}, POST /__sim/contacts/generate {count, historical?}, PATCH /__sim/contacts/:id
 * {properties}, POST /__sim/contacts/:id/touch, POST /__sim/contacts/archive {ids},
 * POST /__sim/contacts/restore {ids}, POST /__sim/contacts/merge {objectIdToMerge,
 * primaryObjectId} (HubSpot's merge body; answers the survivor), POST
 * /__sim/contacts/privacy-delete {ids} (GDPR: gone from every listing), POST
 * /__sim/contacts/bulk-edit {ids | count, properties}. Each takes portalId and at (a write time).
 */
export function registerControlRoutes(app: FastifyInstance, control: SimControl): void {
  app.get('/__sim/portals', async () =>
    control.portalIds.map((portalId) => ({
      portalId,
      tokens: control.tokens({ portalId }),
      scopedTokens: control
        .tokens({ portalId })
        .flatMap((token) => {
          const scopes = control.tokenScopes(token);
          return scopes ? [{ token, scopes }] : [];
        }),
      rateLimits: control.rateLimits({ portalId }),
      ...control.counts({ portalId }),
    })),
  );

  app.get('/__sim/config', async () => ({
    searchLagMs: control.searchLagMs,
    portals: control.portalIds.map((portalId) => ({ portalId, rateLimits: control.rateLimits({ portalId }) })),
  }));

  app.put('/__sim/config', async (request) => {
    const b = body(request.body);
    const searchLagMs = num(b, 'searchLagMs');
    if (searchLagMs !== undefined) control.setSearchLag(searchLagMs);
    if (b.rateLimits !== undefined) control.setRateLimits(rateLimits(b.rateLimits), portalRef(b));
    return { searchLagMs: control.searchLagMs };
  });

  app.post('/__sim/rate-limits/reset', async () => {
    control.resetRateLimitWindows();
    return { ok: true };
  });

  app.get('/__sim/stats', async () => control.stats());
  app.post('/__sim/stats/reset', async () => {
    control.resetStats();
    return { ok: true };
  });

  app.get('/__sim/faults', async () => control.faults());
  app.post('/__sim/faults/fail', async (request) => {
    const b = body(request.body);
    const status = num(b, 'status');
    const skip = num(b, 'skip');
    control.failNext({ ...scope(b), count: requiredNum(b, 'count'), ...(status === undefined ? {} : { status }), ...(skip === undefined ? {} : { skip }) });
    return control.faults();
  });
  app.post('/__sim/faults/rate-limit', async (request) => {
    const b = body(request.body);
    const retryAfterSeconds = num(b, 'retryAfterSeconds');
    const skip = num(b, 'skip');
    const policy = b.policy;
    if (policy !== undefined && policy !== 'TEN_SECONDLY_ROLLING' && policy !== 'SECONDLY' && policy !== 'DAILY') {
      throw validationError('policy must be TEN_SECONDLY_ROLLING, SECONDLY or DAILY');
    }
    control.rateLimitNext({
      ...scope(b),
      count: requiredNum(b, 'count'),
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
      ...(policy === undefined ? {} : { policy: policy as RateLimitPolicy }),
      ...(skip === undefined ? {} : { skip }),
    });
    return control.faults();
  });
  app.post('/__sim/faults/delay', async (request) => {
    const b = body(request.body);
    control.setDelay({ ...scope(b), ms: requiredNum(b, 'ms') });
    return control.faults();
  });
  app.post('/__sim/faults/reset', async () => {
    control.resetFaults();
    return control.faults();
  });

  app.post('/__sim/tokens', async (request) => {
    const b = body(request.body);
    if (b.scopes !== undefined && !(Array.isArray(b.scopes) && b.scopes.every((s) => typeof s === 'string' && s !== ''))) {
      throw validationError('scopes must be an array of scope names');
    }
    control.addToken(requiredString(b, 'token'), { ...portalRef(b), ...(b.scopes === undefined ? {} : { scopes: b.scopes as string[] }) });
    return { tokens: control.tokens(portalRef(b)) };
  });
  app.post('/__sim/tokens/revoke', async (request) => {
    const b = body(request.body);
    return { revoked: control.revokeToken(requiredString(b, 'token')) };
  });

  app.get('/__sim/contacts', async (request) => {
    const q = request.query as Record<string, string | undefined>;
    const ref = portalRef({ portalId: q.portalId === undefined ? undefined : Number(q.portalId) });
    return q.archived === 'true' ? control.archivedContacts(ref) : control.liveContacts(ref);
  });
  app.get('/__sim/contacts/:id', async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    const { id } = request.params as { id: string };
    const c = control.getContact(id, portalRef({ portalId: q.portalId === undefined ? undefined : Number(q.portalId) }));
    return c ?? reply.code(404).send({ status: 'error', message: `no contact ${id}` });
  });
  app.post('/__sim/contacts', async (request) => {
    const b = body(request.body);
    if (!Array.isArray(b.contacts)) throw validationError('contacts must be an array of property objects');
    return control.createContacts(b.contacts as PropertyInput[], { ...portalRef(b), ...at(b) });
  });
  app.post('/__sim/contacts/generate', async (request) => {
    const b = body(request.body);
    return control.generateContacts(requiredNum(b, 'count'), { ...portalRef(b), ...at(b), historical: b.historical === true });
  });
  app.patch('/__sim/contacts/:id', async (request) => {
    const b = body(request.body);
    const { id } = request.params as { id: string };
    return control.editContact(id, (b.properties ?? {}) as PropertyInput, { ...portalRef(b), ...at(b) });
  });
  app.post('/__sim/contacts/:id/touch', async (request) => {
    const b = body(request.body);
    const { id } = request.params as { id: string };
    return control.touchContact(id, { ...portalRef(b), ...at(b) });
  });
  app.post('/__sim/contacts/archive', async (request) => {
    const b = body(request.body);
    if (!Array.isArray(b.ids)) throw validationError('ids must be an array');
    return control.archiveContacts(b.ids as string[], { ...portalRef(b), ...at(b) });
  });
  app.post('/__sim/contacts/restore', async (request) => {
    const b = body(request.body);
    if (!Array.isArray(b.ids)) throw validationError('ids must be an array');
    return control.restoreContacts(b.ids as string[], { ...portalRef(b), ...at(b) });
  });
  app.post('/__sim/contacts/merge', async (request) => {
    const b = body(request.body);
    return control.mergeContacts(requiredId(b, 'objectIdToMerge'), requiredId(b, 'primaryObjectId'), { ...portalRef(b), ...at(b) });
  });
  app.post('/__sim/contacts/privacy-delete', async (request) => {
    const b = body(request.body);
    if (!Array.isArray(b.ids)) throw validationError('ids must be an array');
    return control.privacyDeleteContacts(b.ids as string[], { ...portalRef(b), ...at(b) });
  });
  app.post('/__sim/contacts/bulk-edit', async (request) => {
    const b = body(request.body);
    const count = num(b, 'count');
    return control.bulkEdit({
      ...portalRef(b),
      ...at(b),
      ...(Array.isArray(b.ids) ? { ids: b.ids as string[] } : {}),
      ...(count === undefined ? {} : { count }),
      ...(b.properties === undefined ? {} : { properties: b.properties as PropertyInput }),
    });
  });

  /** Long-polls until every write so far is visible to search. */
  app.post('/__sim/search/settle', async (request) => {
    await control.searchSettled(portalRef(body(request.body)));
    return control.counts(portalRef(body(request.body)));
  });
}

type Body = Record<string, unknown>;

function body(raw: unknown): Body {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw validationError('the body must be a JSON object');
  return raw as Body;
}

function num(b: Body, name: string): number | undefined {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw validationError(`${name} must be a number`);
  return v;
}

function requiredNum(b: Body, name: string): number {
  const v = num(b, name);
  if (v === undefined) throw validationError(`${name} is required`);
  return v;
}

function requiredString(b: Body, name: string): string {
  const v = b[name];
  if (typeof v !== 'string' || v === '') throw validationError(`${name} must be a non-empty string`);
  return v;
}

function requiredId(b: Body, name: string): string {
  const v = b[name];
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  if (typeof v === 'string' && /^\d+$/.test(v)) return v;
  throw validationError(`${name} must be a contact id`);
}

function portalRef(b: Body): { portalId?: number } {
  const portalId = num(b, 'portalId');
  return portalId === undefined ? {} : { portalId };
}

function scope(b: Body): FaultScope {
  const s: FaultScope = portalRef(b);
  if (b.endpoint !== undefined) {
    if (!isEndpointName(b.endpoint)) throw validationError(`unknown endpoint ${JSON.stringify(b.endpoint)}`);
    s.endpoint = b.endpoint;
  }
  return s;
}

/** A write time as epoch ms or an ISO string. */
function at(b: Body): { at?: number } {
  const v = b.at;
  if (v === undefined || v === null) return {};
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw validationError('at must be epoch ms or an ISO 8601 string');
  return { at: ms };
}

function rateLimits(v: unknown): Partial<RateLimits> {
  const b = body(v);
  const out: Partial<RateLimits> = {};
  const tenSecondly = num(b, 'tenSecondly');
  const searchPerSecond = num(b, 'searchPerSecond');
  if (tenSecondly !== undefined) out.tenSecondly = tenSecondly;
  if (searchPerSecond !== undefined) out.searchPerSecond = searchPerSecond;
  return out;
}
