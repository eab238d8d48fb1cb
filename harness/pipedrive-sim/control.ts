import type { FastifyInstance } from 'fastify';
import type { FaultBook } from '../hubspot-sim/faults.js';
import { personJson, orgJson, type Company, type PersonInput, type SimUser } from './company.js';
import { badRequest, notFound } from './errors.js';
import { isEndpoint, type Limits, type PipedriveEndpoint, type RequestRecord, type TokenOwner } from './gateway.js';
import type { PersonGenerator } from './generate.js';
import type { PipedriveWebhookFaults, PipedriveWebhooks, PipedriveWebhookSettings } from './webhooks.js';

/** Which company a call is about (the first one when absent), and when a write happens (epoch ms; the sim's clock when absent). */
export interface Ref {
  companyId?: number;
  at?: number;
}

/**
 * Drives the simulator from a test or a demo: writes that happen "in Pipedrive" while a sync runs,
 * tokens, limits, faults, and what the sim was asked. Every method is also reachable over HTTP
 * under /__sim (registerControlRoutes), for clients in another process.
 */
export class PipedriveSimControl {
  readonly requests: RequestRecord[] = [];

  constructor(
    private readonly companies: Map<number, Company>,
    private readonly tokens: Map<string, { companyId: number; userId: number }>,
    private readonly generators: Map<number, PersonGenerator>,
    readonly faults: FaultBook<PipedriveEndpoint>,
    private readonly limits: Limits,
    private readonly clock: () => number,
    /** The webhooks of every company: subscriptions, faults, stats. */
    readonly webhooks: PipedriveWebhooks,
  ) {}

  company(ref: Ref = {}): Company {
    const c = ref.companyId === undefined ? this.companies.values().next().value : this.companies.get(ref.companyId);
    if (!c) throw notFound(`no company ${ref.companyId}`);
    return c;
  }

  get companyIds(): number[] {
    return [...this.companies.keys()];
  }

  ownerOf(token: string): TokenOwner | undefined {
    const t = this.tokens.get(token);
    const company = t && this.companies.get(t.companyId);
    const user = company?.users.get(t!.userId);
    return company && user ? { company, user } : undefined;
  }

  /** Adds a token for a user of the company (its admin, user 1, by default; a new non-admin user with `admin: false`). */
  addToken(token: string, opts: { companyId?: number; userId?: number; admin?: boolean } = {}): SimUser {
    if (token === '') throw badRequest('token must not be empty');
    const company = this.company(opts);
    const user =
      opts.userId !== undefined
        ? company.users.get(opts.userId)
        : opts.admin === false
          ? company.addUser({ name: `User of ${token}`, email: `${token}@${company.domain}.example`, is_admin: false })
          : company.users.get(1);
    if (!user) throw notFound(`no user ${opts.userId}`);
    this.tokens.set(token, { companyId: company.id, userId: user.id });
    return user;
  }

  revokeToken(token: string): boolean {
    return this.tokens.delete(token);
  }

  // --- writes "in Pipedrive" ------------------------------------------------------------------

  createPersons(inputs: readonly PersonInput[], ref: Ref = {}) {
    const company = this.company(ref);
    return inputs.map((input) => personJson(company.createPerson(input, this.seconds(ref))));
  }

  /** Persons of the generator's ugly kind, created now (or at `at`). */
  generatePersons(count: number, ref: Ref = {}) {
    const company = this.company(ref);
    const generator = this.generators.get(company.id)!;
    const at = this.seconds(ref);
    return Array.from({ length: count }, () => personJson(company.createPerson(generator.next(company, at), at)));
  }

  editPerson(id: number, input: PersonInput, ref: Ref = {}) {
    return personJson(this.company(ref).editPerson(id, input, this.seconds(ref)));
  }

  deletePerson(id: number, ref: Ref = {}): void {
    this.company(ref).deletePerson(id, this.seconds(ref));
  }

  /** Merges person `id` into `mergeWithId`, which survives. */
  mergePersons(id: number, mergeWithId: number, ref: Ref = {}) {
    return personJson(this.company(ref).mergePersons(id, mergeWithId, this.seconds(ref)));
  }

  createOrg(name: string, ref: Ref = {}) {
    return orgJson(this.company(ref).createOrg(name, this.seconds(ref)));
  }

  renameOrg(id: number, name: string, ref: Ref = {}) {
    return orgJson(this.company(ref).renameOrg(id, name, this.seconds(ref)));
  }

  /** Every live person, by id, in API v2's JSON: what a complete mirror must match. */
  persons(ref: Ref = {}) {
    return [...this.company(ref).persons.values()].sort((a, b) => a.id - b.id).map(personJson);
  }

  orgs(ref: Ref = {}) {
    return [...this.company(ref).orgs.values()].sort((a, b) => a.id - b.id).map(orgJson);
  }

  // --- limits, faults, stats ------------------------------------------------------------------

  setLimits(limits: { windowLimit?: number; dailyBudget?: number }, ref: Ref = {}): void {
    const company = this.company(ref);
    if (limits.windowLimit !== undefined) company.windowLimit = limits.windowLimit;
    if (limits.dailyBudget !== undefined) company.dailyBudget = limits.dailyBudget;
  }

  resetLimits(): void {
    this.limits.reset();
  }

  record(r: RequestRecord): void {
    this.requests.push(r);
    if (this.requests.length > 10_000) this.requests.splice(0, this.requests.length - 10_000);
  }

  stats(): { requests: number; byEndpoint: Record<string, number>; byStatus: Record<string, number> } {
    const byEndpoint: Record<string, number> = {};
    const byStatus: Record<string, number> = {};
    for (const r of this.requests) {
      byEndpoint[r.endpoint] = (byEndpoint[r.endpoint] ?? 0) + 1;
      byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    }
    return { requests: this.requests.length, byEndpoint, byStatus };
  }

  resetStats(): void {
    this.requests.length = 0;
  }

  private seconds(ref: Ref): number {
    return Math.floor((ref.at ?? this.clock()) / 1000);
  }
}

type Body = Record<string, unknown>;

/** The control object over HTTP. These routes pass no gateway: no token, no limits, not recorded. */
export function registerControlRoutes(app: FastifyInstance, control: PipedriveSimControl): void {
  const body = (raw: unknown): Body => {
    if (raw === undefined || raw === null) return {};
    if (typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('the body must be a JSON object');
    return raw as Body;
  };
  const num = (b: Body, name: string): number | undefined => {
    const v = b[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`${name} must be a number`);
    return v;
  };
  const ref = (b: Body): Ref => {
    const companyId = num(b, 'companyId');
    const at = typeof b.at === 'string' ? Date.parse(b.at) : num(b, 'at');
    if (at !== undefined && Number.isNaN(at)) throw badRequest('at must be epoch ms or an ISO 8601 string');
    return { ...(companyId === undefined ? {} : { companyId }), ...(at === undefined ? {} : { at }) };
  };
  const id = (params: unknown): number => {
    const n = Number((params as { id: string }).id);
    if (!Number.isSafeInteger(n)) throw badRequest('id must be an integer');
    return n;
  };

  app.get('/__sim/companies', async () =>
    control.companyIds.map((companyId) => {
      const c = control.company({ companyId });
      return { id: c.id, name: c.name, domain: c.domain, persons: c.persons.size, orgs: c.orgs.size, windowLimit: c.windowLimit, dailyBudget: c.dailyBudget };
    }),
  );
  app.get('/__sim/persons', async (request) => control.persons(ref(body(request.query))));
  app.post('/__sim/persons', async (request) => {
    const b = body(request.body);
    if (!Array.isArray(b.persons)) throw badRequest('persons must be an array');
    return control.createPersons(b.persons as PersonInput[], ref(b));
  });
  app.post('/__sim/persons/generate', async (request) => {
    const b = body(request.body);
    return control.generatePersons(num(b, 'count') ?? 1, ref(b));
  });
  app.patch('/__sim/persons/:id', async (request) => {
    const b = body(request.body);
    return control.editPerson(id(request.params), body(b.fields) as PersonInput, ref(b));
  });
  app.delete('/__sim/persons/:id', async (request) => {
    control.deletePerson(id(request.params), ref(body(request.body)));
    return { success: true };
  });
  app.post('/__sim/persons/:id/merge', async (request) => {
    const b = body(request.body);
    const into = num(b, 'mergeWithId');
    if (into === undefined) throw badRequest('mergeWithId is required');
    return control.mergePersons(id(request.params), into, ref(b));
  });
  app.post('/__sim/organizations', async (request) => {
    const b = body(request.body);
    if (typeof b.name !== 'string') throw badRequest('name must be a string');
    return control.createOrg(b.name, ref(b));
  });
  app.patch('/__sim/organizations/:id', async (request) => {
    const b = body(request.body);
    if (typeof b.name !== 'string') throw badRequest('name must be a string');
    return control.renameOrg(id(request.params), b.name, ref(b));
  });
  app.post('/__sim/tokens', async (request) => {
    const b = body(request.body);
    if (typeof b.token !== 'string') throw badRequest('token must be a string');
    const userId = num(b, 'userId');
    return control.addToken(b.token, { ...ref(b), ...(userId === undefined ? {} : { userId }), ...(b.admin === false ? { admin: false } : {}) });
  });
  app.post('/__sim/tokens/revoke', async (request) => {
    const b = body(request.body);
    return { revoked: typeof b.token === 'string' && control.revokeToken(b.token) };
  });
  app.put('/__sim/limits', async (request) => {
    const b = body(request.body);
    const windowLimit = num(b, 'windowLimit');
    const dailyBudget = num(b, 'dailyBudget');
    control.setLimits({ ...(windowLimit === undefined ? {} : { windowLimit }), ...(dailyBudget === undefined ? {} : { dailyBudget }) }, ref(b));
    return { ok: true };
  });
  app.post('/__sim/limits/reset', async () => {
    control.resetLimits();
    return { ok: true };
  });
  app.post('/__sim/faults/fail', async (request) => {
    const b = body(request.body);
    control.faults.failNext({ ...scope(b), count: num(b, 'count') ?? 1, status: num(b, 'status') ?? 500 });
    return control.faults.describe();
  });
  app.post('/__sim/faults/rate-limit', async (request) => {
    const b = body(request.body);
    const retryAfterSeconds = num(b, 'retryAfterSeconds');
    control.faults.rateLimitNext({ ...scope(b), count: num(b, 'count') ?? 1, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) });
    return control.faults.describe();
  });
  app.post('/__sim/faults/delay', async (request) => {
    const b = body(request.body);
    control.faults.setDelay({ ...scope(b), ms: num(b, 'ms') ?? 0 });
    return control.faults.describe();
  });
  app.post('/__sim/faults/reset', async () => {
    control.faults.reset();
    return control.faults.describe();
  });
  // Webhooks (webhooks.ts): what is subscribed, faults of delivery, retries, and what was sent.
  app.get('/__sim/webhooks', async () => control.webhooks.all());
  app.get('/__sim/webhooks/faults', async () => control.webhooks.currentFaults());
  app.put('/__sim/webhooks/faults', async (request) => {
    control.webhooks.setFaults(body(request.body) as PipedriveWebhookFaults);
    return control.webhooks.currentFaults();
  });
  app.put('/__sim/webhooks/config', async (request) => {
    const b = body(request.body);
    for (const k of ['maxAttempts', 'retryDelayMs', 'timeoutMs'] as const) {
      const v = num(b, k);
      if (v !== undefined) control.webhooks.settings[k] = v as PipedriveWebhookSettings[typeof k];
    }
    return { ...control.webhooks.settings };
  });
  app.get('/__sim/webhooks/stats', async () => control.webhooks.stats());
  app.post('/__sim/webhooks/stats/reset', async () => {
    control.webhooks.resetStats();
    return { ok: true };
  });
  app.post('/__sim/webhooks/settle', async () => {
    await control.webhooks.settled();
    return control.webhooks.stats();
  });
  app.get('/__sim/stats', async () => control.stats());
  app.post('/__sim/stats/reset', async () => {
    control.resetStats();
    return { ok: true };
  });

  function scope(b: Body): { portalId?: number; endpoint?: PipedriveEndpoint } {
    const companyId = num(b, 'companyId');
    if (b.endpoint !== undefined && !isEndpoint(b.endpoint)) throw badRequest(`unknown endpoint ${JSON.stringify(b.endpoint)}`);
    return { ...(companyId === undefined ? {} : { portalId: companyId }), ...(b.endpoint === undefined ? {} : { endpoint: b.endpoint }) };
  }
}
