import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CountryCode } from 'libphonenumber-js/max';
import { getTenant } from '../tenants/repository.js';
import type { LookupQuery } from '../lookup/contact-lookup.js';
import { clock } from '../lookup/verdicts.js';
import { lookup, lookupQuery, LookupQuerystring, MAX_LOOKUP_OFFSET, type LookupResponse } from './contact-lookup.js';
import { TenantParams } from './tenant-routes.js';

/** The screen's form takes one box; what was typed says what it is. */
export function guessKind(term: string): 'phone' | 'email' | 'q' {
  if (term.includes('@')) return 'email';
  return /\p{L}/u.test(term.replace(/^\s*\+?[\d\s().-]*(ext|x)\.?\s*\d*\s*$/iu, '')) ? 'q' : 'phone';
}

const KIND_WORDS = { phone: 'phone', email: 'email', q: 'name starting with' } as const;

/** One contact as the screen shows it: the lookup's JSON with its times made readable. */
function contactView(c: LookupResponse['contacts'][number]) {
  return {
    id: c.id,
    name: c.contact.name ?? '(no data: erased)',
    deleted: c.deleted,
    emails: c.contact.emails ?? [],
    phones: c.phones,
    verdicts: c.verdicts,
    crmUrl: c.crm_url ?? null,
    timeline: c.history.map((e) => ({ at: clock(e.at), source: e.source, what: e.deleted ? 'deleted' : e.fields.join(', ') || 'no field changed' })),
    copies: c.copies.map((x) => ({ label: x.label ?? x.credential, delivery: x.delivery, lastSync: x.last_sync_at ? clock(x.last_sync_at) : 'never' })),
  };
}

/**
 * `GET /admin/tenants/:id/search?term=…`: the status page's search box, answered as HTML drawn on
 * the server (no script, so the page's Content-Security-Policy stays as strict as it is). The
 * same lookup as the JSON route, and a link to it.
 */
const lookupPage: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app;
  const region = app.config.DEFAULT_PHONE_REGION as CountryCode;
  app.get(
    '/tenants/:id/search',
    {
      schema: {
        hide: true,
        params: TenantParams,
        querystring: Type.Object({
          term: Type.Optional(Type.String({ maxLength: 256 })),
          offset: LookupQuerystring.properties.offset,
        }),
      },
    },
    async (request, reply) => {
      const tenant = await getTenant(db, request.params.id);
      reply.header('cache-control', 'no-store');
      if (!tenant) return reply.code(404).view('lookup', { tenant: null, term: '', error: 'No such tenant.' });
      const term = (request.query.term ?? '').trim();
      const base = { tenant: { id: tenant.id, name: tenant.name }, term, region };
      if (term === '') return reply.view('lookup', { ...base, error: null, result: null });
      const kind = guessKind(term);
      let query: LookupQuery;
      try {
        query = lookupQuery({ [kind]: term });
      } catch (err) {
        return reply.code(400).view('lookup', { ...base, error: (err as Error).message, result: null });
      }
      const offset = request.query.offset ?? 0;
      const found = await lookup(db, tenant, query, { region, offset });
      const here = `/admin/tenants/${encodeURIComponent(tenant.id)}`;
      const next = found.next_offset !== undefined && found.next_offset <= MAX_LOOKUP_OFFSET ? found.next_offset : undefined;
      return reply.view('lookup', {
        ...base,
        error: null,
        result: {
          by: KIND_WORDS[kind],
          contacts: found.contacts.map(contactView),
          partial: found.partial === true,
          json: `${here}/contacts?${new URLSearchParams({ [kind]: term, ...(offset ? { offset: String(offset) } : {}) }).toString()}`,
          nextPage: next === undefined ? null : `${here}/search?${new URLSearchParams({ term, offset: String(next) }).toString()}`,
        },
      });
    },
  );
};

export default lookupPage;
