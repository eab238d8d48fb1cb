import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { FaultBook } from '../hubspot-sim/faults.js';
import { Company, orgJson, personJson } from './company.js';
import { PipedriveSimControl, registerControlRoutes } from './control.js';
import { errorBody, SimHttpError } from './errors.js';
import { installGateway, Limits, type PipedriveEndpoint } from './gateway.js';
import { PersonGenerator } from './generate.js';
import { listPage, parseListQuery } from './listing.js';
import { PipedriveWebhooks, type PipedriveWebhookSettings } from './webhooks.js';

export interface CompanyOptions {
  companyId: number;
  name?: string;
  /** The subdomain: `https://<domain>.pipedrive.com`. */
  domain?: string;
  /** Tokens of the company's admin (user 1). */
  tokens: string[];
  /** Tokens of a non-admin user each, who sees only persons visible to the entire company and their own. */
  userTokens?: string[];
  /** Persons to seed, with the generator's ugly values, changed over the past year. */
  persons?: number;
  /** Requests per 2-second window per token: 20 (Essential), 40 (Advanced, the default), 80, 120. */
  windowLimit?: number;
  /** Requests per UTC day for the company; none by default. */
  dailyBudget?: number;
  seed?: number;
}

export interface PipedriveSimOptions {
  /** Default: one company, 7001 ("Demo Company", domain "demo-company"), token "pd-demo-token", no persons. */
  companies?: CompanyOptions[];
  /** The sim's time (update_time, the limits). Default Date.now. */
  clock?: () => number;
  seed?: number;
  logger?: FastifyServerOptions['logger'];
  /** Webhook retries: 3 attempts 1 s apart, 5 s to answer, by default. */
  webhooks?: Partial<PipedriveWebhookSettings>;
}

export interface PipedriveSim {
  app: FastifyInstance;
  control: PipedriveSimControl;
}

export const DEFAULT_COMPANY: CompanyOptions = { companyId: 7001, name: 'Demo Company', domain: 'demo-company', tokens: ['pd-demo-token'] };

const ROUTES: Record<string, PipedriveEndpoint> = {
  'GET /v1/users/me': 'users.me',
  'GET /api/v2/persons': 'persons.list',
  'GET /api/v2/organizations': 'organizations.list',
  'GET /v1/webhooks': 'webhooks.list',
  'POST /v1/webhooks': 'webhooks.add',
  'DELETE /v1/webhooks/:id': 'webhooks.delete',
};

/**
 * A Pipedrive stand-in for one or more companies: API v1's `users/me` under /v1 and API v2's
 * persons and organizations under /api/v2, as on api.pipedrive.com, so the official client's
 * base paths point at it unchanged. Not listening yet: `app.listen({ port: 0, host: '127.0.0.1' })`.
 */
export async function buildPipedriveSim(options: PipedriveSimOptions = {}): Promise<PipedriveSim> {
  const clock = options.clock ?? Date.now;
  const seed = options.seed ?? 1;
  const companies = new Map<number, Company>();
  const tokens = new Map<string, { companyId: number; userId: number }>();
  const generators = new Map<number, PersonGenerator>();
  const faults = new FaultBook<PipedriveEndpoint>();
  const limits = new Limits(clock);
  const webhooks = new PipedriveWebhooks(companies, clock, seed, { maxAttempts: 3, retryDelayMs: 1000, timeoutMs: 5000, ...options.webhooks });
  const control = new PipedriveSimControl(companies, tokens, generators, faults, limits, clock, webhooks);

  for (const c of options.companies ?? [DEFAULT_COMPANY]) {
    const name = c.name ?? `Company ${c.companyId}`;
    const company = new Company(c.companyId, name, c.domain ?? `company-${c.companyId}`, c.windowLimit ?? 40, c.dailyBudget ?? Infinity);
    companies.set(company.id, company);
    const generator = new PersonGenerator(c.seed ?? seed + c.companyId);
    generators.set(company.id, generator);
    for (const t of c.tokens) control.addToken(t, { companyId: company.id });
    for (const t of c.userTokens ?? []) control.addToken(t, { companyId: company.id, admin: false });
    if (c.persons) generator.seed(company, c.persons, Math.floor(clock() / 1000));
    webhooks.attach(company);
  }

  const app = Fastify({ logger: options.logger ?? false });
  app.addHook('onClose', async () => webhooks.close());
  app.setErrorHandler((error: FastifyError | SimHttpError, request, reply) => {
    if (error instanceof SimHttpError) return reply.code(error.statusCode).send(error.body());
    const status = 'statusCode' in error && error.statusCode ? error.statusCode : 500;
    if (status >= 500) request.log.error(error);
    return reply.code(status).send(errorBody(status, error.message));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody(404, `Unknown method ${request.method} ${request.url.split('?')[0]}`)));

  const ownerOf = installGateway(
    app,
    {
      ownerOf: (token) => control.ownerOf(token),
      faults,
      clock,
      endpointOf: (method, url) => ROUTES[`${method} ${url}`],
      record: (r) => control.record(r),
    },
    limits,
  );

  app.get('/v1/users/me', async (request) => {
    const { company, user } = ownerOf(request);
    return {
      success: true,
      data: {
        id: user.id,
        name: user.name,
        email: user.email,
        is_admin: user.is_admin ? 1 : 0,
        active_flag: true,
        lang: 1,
        locale: 'en_US',
        timezone_name: 'Europe/Lisbon',
        company_id: company.id,
        company_name: company.name,
        company_domain: company.domain,
        company_country: 'PT',
        language: { language_code: 'en', country_code: 'US' },
      },
    };
  });

  // The query keys a list endpoint knows; another key is refused, as Pipedrive's schema validation does.
  const personKeys = new Set(['ids', 'owner_id', 'org_id', 'updated_since', 'updated_until', 'sort_by', 'sort_direction', 'limit', 'cursor', 'api_token', 'filter_id', 'deal_id', 'include_fields', 'custom_fields']);
  app.get('/api/v2/persons', async (request) => {
    const { company, user } = ownerOf(request);
    const raw = request.query as Record<string, string | undefined>;
    checkKeys(raw, personKeys);
    const q = parseListQuery(raw);
    const orgId = raw.org_id === undefined ? undefined : Number(raw.org_id);
    if (orgId !== undefined && !Number.isSafeInteger(orgId)) throw new SimHttpError(400, 'Validation failed: org_id: must be an integer');
    const visible = [...company.persons.values()].filter((p) => company.canSee(user, p) && (orgId === undefined || p.org_id === orgId));
    const page = listPage(visible, q);
    return { success: true, data: page.data.map(personJson), additional_data: { next_cursor: page.nextCursor } };
  });

  const orgKeys = new Set(['ids', 'owner_id', 'updated_since', 'updated_until', 'sort_by', 'sort_direction', 'limit', 'cursor', 'api_token', 'filter_id', 'include_fields', 'custom_fields']);
  app.get('/api/v2/organizations', async (request) => {
    const { company } = ownerOf(request);
    const raw = request.query as Record<string, string | undefined>;
    checkKeys(raw, orgKeys);
    const page = listPage(company.orgs.values(), parseListQuery(raw));
    return { success: true, data: page.data.map(orgJson), additional_data: { next_cursor: page.nextCursor } };
  });

  app.get('/v1/webhooks', async (request) => {
    const { company } = ownerOf(request);
    return { success: true, status: 'ok', data: webhooks.list(company) };
  });
  app.post('/v1/webhooks', async (request, reply) => {
    const { company, user } = ownerOf(request);
    const raw = request.body;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new SimHttpError(400, 'Validation failed: the body must be a JSON object');
    const hook = webhooks.add(company, user, raw as Record<string, unknown>);
    return reply.code(201).send({ success: true, status: 'ok', data: hook });
  });
  app.delete('/v1/webhooks/:id', async (request) => {
    const { company } = ownerOf(request);
    const id = Number((request.params as { id: string }).id);
    if (!Number.isSafeInteger(id)) throw new SimHttpError(400, 'Validation failed: id: must be an integer');
    webhooks.remove(company, id);
    return { success: true, status: 'ok' };
  });

  registerControlRoutes(app, control);
  return { app, control };
}

function checkKeys(raw: Record<string, unknown>, known: ReadonlySet<string>): void {
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) throw new SimHttpError(400, `Validation failed: ${key}: Parameter is not allowed for this request`);
  }
}
