import t, { type Test } from 'tap';
import { sql } from 'drizzle-orm';
import { adminHeaders, ADMIN_TOKEN, buildTestApp, type TestApp } from './helpers/app.js';
import { appRoutes, fillPath, type AppRoute } from './helpers/routes.js';
import { syncRun } from './helpers/talkdesk.js';

/**
 * Tenant isolation on every route the app has. Tenant A is the attacker: its Talkdesk
 * credentials, the tokens minted for it, its admin-API id. Tenant B is the victim: nothing A
 * holds may return any of B's data or change any of it, and no admin route may be used without
 * the admin token. Routes are read from the router, and a route without a case here fails the
 * test, so a route added later has to say how it keeps tenants apart.
 */

const authA = { api_key: 'alpha-credential-0001' };
const authB = { api_key: 'bravo-credential-0002' };
const NAME_B = 'Bravo Holdings';
const contactsA = [
  { id: 'alpha-contact-1', name: 'Alpha Person 1', phones: ['+15550000001'] },
  { id: 'alpha-contact-2', name: 'Alpha Person 2' },
  { id: 'alpha-contact-3', name: 'Alpha Person 3' },
  // The same contact id in both tenants: A must only ever see its own.
  { id: 'shared-contact-id', name: 'Alpha Shared' },
];
const contactsB = [
  { id: 'bravo-contact-1', name: 'Bravo Person 1', phones: ['+15559990001'], emails: ['bravo1@bravo.example'] },
  { id: 'bravo-contact-2', name: 'Bravo Person 2', company: 'Bravo Widgets' },
  { id: 'bravo-contact-3', name: 'Bravo Person 3' },
  { id: 'shared-contact-id', name: 'Bravo Shared' },
];

/** Everything of B's that must never show up in an answer to A or to a caller without the token. */
const secretsOfB = (idB: string) => [
  idB,
  NAME_B,
  authB.api_key,
  'bravo-contact',
  'Bravo Person',
  'Bravo Shared',
  '+15559990001',
  'bravo1@bravo.example',
  'Bravo Widgets',
];

interface Fixture {
  h: TestApp;
  idA: string;
  idB: string;
  /** B's rows (tenant, contacts, ingest state) and its jobs, to compare before and after. */
  snapshotB(): Promise<unknown>;
  leaksB(body: string): string[];
}

async function fixture(t: Test): Promise<Fixture> {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '2' });
  const idA = await h.createTenant(authA, 'Alpha Inc');
  const idB = await h.createTenant(authB, NAME_B);
  await h.push(idA, contactsA);
  await h.push(idB, contactsB);
  await h.push(idB, [{ id: 'bravo-contact-gone', name: 'Bravo Gone' }]);
  await h.push(idB, [{ id: 'bravo-contact-gone', deleted: true }]);
  const queue = h.runtime.ingest!.queue;
  await queue.add('incremental', { kind: 'incremental', tenantId: idB }, { jobId: `bravo-job-${idB}`, delay: 3_600_000 });

  const rows = async (query: ReturnType<typeof sql>) => (await h.database.db.execute(query)).rows;
  return {
    h,
    idA,
    idB,
    async snapshotB() {
      const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'failed', 'completed', 'paused']);
      return {
        tenant: await rows(sql`SELECT to_jsonb(t) AS row FROM tenants t WHERE id = ${idB}`),
        // When B's own syncs last used its credential is B's doing, not A's.
        credentials: await rows(sql`SELECT to_jsonb(c) - 'last_used_at' AS row FROM credentials c WHERE tenant_id = ${idB}`),
        contacts: await rows(sql`SELECT to_jsonb(c) AS row FROM contacts c WHERE tenant_id = ${idB} ORDER BY id`),
        ingest: await rows(sql`SELECT to_jsonb(s) AS row FROM ingest_state s WHERE tenant_id = ${idB}`),
        jobs: jobs.filter((j) => j.data.tenantId === idB).map((j) => ({ id: j.id, name: j.name, data: j.data })),
      };
    },
    leaksB: (body) => secretsOfB(idB).filter((secret) => body.includes(secret)),
  };
}

// Routes every caller may read: they must hold nothing of any tenant's contacts or credentials.
// /metrics labels its per-tenant series with tenant ids (random UUIDs that open nothing without
// the admin token), never with names, contacts or credentials. The Swagger UI's own files
// (/docs/static/*) are behind the admin token like the rest of /docs.
const PUBLIC_ROUTES = new Set(['/healthz', '/readyz', '/metrics', '/talkdesk/integration.json', '/talkdesk/logo.svg']);

// CRM webhook receivers: each authenticates with what the CRM was given for one tenant (a
// subscription's random id and basic credentials, a signature), never with the admin token; the
// case below sends one with B's id and another tenant's credentials.
const WEBHOOK_ROUTES = new Set(['POST /webhooks/pipedrive/:id', 'POST /webhooks/hubspot']);

// Admin routes that show every tenant to the operator by design: the admin token holder is the
// operator, not a tenant. They get the unauthenticated cases only.
const OPERATOR_WIDE = new Set(['GET /admin', 'GET /admin/', 'GET /admin/tenants', 'POST /admin/tenants']);
const OPERATOR_WIDE_PREFIXES = ['/admin/queues', '/docs'];

// Routes that act on one tenant: A's id with the admin token must never reach B. Each has a case
// in `tenantScopedCases` below.
const TENANT_SCOPED_PREFIX = '/admin/tenants/:id';

const isAdminRoute = (url: string) =>
  !PUBLIC_ROUTES.has(url) && (url === '/admin' || url.startsWith('/admin/') || url === '/docs' || url.startsWith('/docs/'));

type Case = (f: Fixture, t: Test) => Promise<void>;
const admin = (h: TestApp, method: string, url: string, payload?: unknown) =>
  h.app.inject({ method: method as 'GET', url, headers: adminHeaders, ...(payload === undefined ? {} : { payload: payload as object }) });

/** With the admin token, each route that acts on one tenant, called with A's id, leaves B alone. */
const tenantScopedCases: Record<string, Case> = {
  'GET /admin/tenants/:id': async ({ h, idA, leaksB }, t) => {
    const res = await admin(h, 'GET', `/admin/tenants/${idA}`);
    t.equal(res.statusCode, 200);
    t.equal(res.json().id, idA);
    t.equal(res.json().contacts_live, contactsA.length, "A's counts, not B's");
    t.same(leaksB(res.body), []);
  },
  'PATCH /admin/tenants/:id': async ({ h, idA }, t) => {
    t.equal((await admin(h, 'PATCH', `/admin/tenants/${idA}`, { name: 'Alpha Renamed' })).statusCode, 200);
  },
  'POST /admin/tenants/:id/pause': async ({ h, idA }, t) => {
    t.equal((await admin(h, 'POST', `/admin/tenants/${idA}/pause`)).json().status, 'paused');
  },
  'POST /admin/tenants/:id/approve': async ({ h, idA }, t) => {
    const before = (await admin(h, 'GET', `/admin/tenants/${idA}`)).json().status;
    t.equal((await admin(h, 'POST', `/admin/tenants/${idA}/approve`)).json().status, before, 'not awaiting approval: left as it is');
  },
  'POST /admin/tenants/:id/resume': async ({ h, idA }, t) => {
    t.equal((await admin(h, 'POST', `/admin/tenants/${idA}/resume`)).json().status, 'active');
  },
  'POST /admin/tenants/:id/resync': async ({ h, idA }, t) => {
    t.equal((await admin(h, 'POST', `/admin/tenants/${idA}/resync`)).statusCode, 409, 'a pushed tenant has no CRM to resync');
  },
  'PUT /admin/tenants/:id/contacts': async ({ h, idA }, t) => {
    // Ids B also has: written into A's mirror only.
    const res = await admin(h, 'PUT', `/admin/tenants/${idA}/contacts`, [
      { id: 'bravo-contact-1', name: 'Alpha writes this id' },
      { id: 'shared-contact-id', name: 'Alpha Shared, edited' },
      { id: 'bravo-contact-2', deleted: true },
    ]);
    t.same(res.json(), { inserted: 1, updated: 1, unchanged: 1, deleted: 0 });
  },
  'GET /admin/tenants/:id/contacts/:contactId': async ({ h, idA, leaksB }, t) => {
    t.equal((await admin(h, 'GET', `/admin/tenants/${idA}/contacts/bravo-contact-3`)).statusCode, 404, 'A has no such contact');
    const res = await admin(h, 'GET', `/admin/tenants/${idA}/contacts/shared-contact-id`);
    t.equal(res.statusCode, 200);
    t.match(res.json().contact.name, /^Alpha Shared/, "A's copy of a shared id");
    t.equal(res.json().copies.length, 1, "A's one credential, not B's");
    t.same(leaksB(res.body), []);
  },
  'GET /admin/tenants/:id/contacts': async ({ h, idA, leaksB }, t) => {
    // B's phone, email and names, looked up in A: nothing; A's own name: A's contacts only.
    for (const query of ['phone=%2B15559990001', 'email=bravo1%40bravo.example', 'q=Bravo']) {
      const res = await admin(h, 'GET', `/admin/tenants/${idA}/contacts?${query}`);
      t.equal(res.statusCode, 200, query);
      t.same(res.json().contacts, [], `${query}: none of B's`);
      t.same(leaksB(res.body), [], query);
    }
    const shared = await admin(h, 'GET', `/admin/tenants/${idA}/contacts?q=Alpha%20Shared`);
    const names = shared.json().contacts.map((c: { contact: { name: string } }) => c.contact.name);
    t.equal(names.length, 1, 'one contact of that name');
    t.match(names[0], /^Alpha Shared/, "A's copy of the shared id");
    t.same(leaksB(shared.body), []);
  },
  'GET /admin/tenants/:id/search': async ({ h, idA, leaksB }, t) => {
    for (const term of ['+15559990001', 'bravo1@bravo.example', 'Bravo', 'Shared']) {
      const res = await admin(h, 'GET', `/admin/tenants/${idA}/search?${new URLSearchParams({ term }).toString()}`);
      t.equal(res.statusCode, 200, term);
      // The page repeats the operator's own query; nothing else of B's may be on it.
      t.same(leaksB(res.body.split(term).join('')), [], `${term}: nothing of B on A's search page`);
    }
  },
  'DELETE /admin/tenants/:id/contacts/:contactId': async ({ h, idA }, t) => {
    t.equal((await admin(h, 'DELETE', `/admin/tenants/${idA}/contacts/bravo-contact-3`)).statusCode, 404, 'A has no such contact');
    t.equal((await admin(h, 'DELETE', `/admin/tenants/${idA}/contacts/bravo-contact-3?erase=true`)).statusCode, 404, 'nor one to erase');
    t.equal((await admin(h, 'DELETE', `/admin/tenants/${idA}/contacts/bravo-contact-2?erase=true`)).statusCode, 404, "B's contact is not A's to erase");
    t.equal((await admin(h, 'DELETE', `/admin/tenants/${idA}/contacts/shared-contact-id`)).statusCode, 204, "A's copy of a shared id");
  },
  'DELETE /admin/tenants/:id/credentials/:credentialId': async ({ h, idA, idB }, t) => {
    const credentialOf = async (id: string) =>
      (await h.database.db.execute<{ id: string }>(sql`SELECT id FROM credentials WHERE tenant_id = ${id}`)).rows[0]!.id;
    const ofB = await credentialOf(idB);
    t.equal((await admin(h, 'DELETE', `/admin/tenants/${idA}/credentials/${ofB}`)).statusCode, 404, "B's credential is not A's to revoke");
    t.equal((await admin(h, 'DELETE', `/admin/tenants/${idA}/credentials/${await credentialOf(idA)}`)).statusCode, 204, "A's own");
  },
  'DELETE /admin/tenants/:id': async ({ h, idA }, t) => {
    t.equal((await admin(h, 'DELETE', `/admin/tenants/${idA}`)).statusCode, 204);
  },
};

t.test('every route is covered by an isolation case', async (t) => {
  const { h } = await fixture(t);
  const routes = appRoutes(h.app);
  const tenantScoped = Object.keys(tenantScopedCases);
  for (const { method, url } of routes) {
    const key = `${method === 'HEAD' ? 'GET' : method} ${url}`;
    const covered =
      url === h.config.SYNC_PATH ||
      url === '/auth_validation' ||
      PUBLIC_ROUTES.has(url) ||
      WEBHOOK_ROUTES.has(key) ||
      OPERATOR_WIDE.has(key) ||
      OPERATOR_WIDE_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`)) ||
      tenantScoped.includes(key);
    t.ok(covered, `${method} ${url} has an isolation case`);
    if (url.startsWith(TENANT_SCOPED_PREFIX)) t.ok(tenantScoped.includes(key), `${key} acts on one tenant: it needs a tenant-scoped case`);
  }
  t.ok(routes.some((r) => r.url.startsWith('/admin/queues/')), 'the queue board is among the routes');
});

t.test('without the admin token no admin route answers or changes anything', async (t) => {
  const { h, idB, snapshotB, leaksB } = await fixture(t);
  const jobB = `bravo-job-${idB}`;
  const credentialB = (await h.database.db.execute<{ id: string }>(sql`SELECT id FROM credentials WHERE tenant_id = ${idB}`)).rows[0]!.id;
  const before = await snapshotB();
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const refusals: Array<[string, Record<string, string>]> = [
    ['no credentials', {}],
    ['a wrong bearer token', { authorization: 'Bearer not-the-admin-token-at-all' }],
    ["tenant A's Talkdesk credential as a bearer token", { authorization: `Bearer ${authA.api_key}` }],
    ["tenant B's Talkdesk credential as a bearer token", { authorization: `Bearer ${authB.api_key}` }],
    ['the admin token as the basic user name', { authorization: basic(ADMIN_TOKEN, 'x') }],
    ['the admin token with a byte changed', { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}X` }],
  ];
  const adminRoutes = appRoutes(h.app).filter((r) => isAdminRoute(r.url));
  t.ok(adminRoutes.length > 30, `${adminRoutes.length} admin routes`);
  for (const route of adminRoutes) {
    // Every parameter names B's things: were the token not needed, these calls would hit B.
    const url = fillPath(route.url, {
      id: idB,
      contactId: 'bravo-contact-1',
      credentialId: credentialB,
      queueName: 'ingest',
      jobId: jobB,
      queueStatus: 'delayed',
      schedulerId: `tick:${idB}`,
      '*': 'favicon-32x32.png',
    });
    for (const [what, headers] of refusals) {
      const res = await h.app.inject({ method: route.method as 'GET', url, headers, ...hostileBody(route) });
      t.equal(res.statusCode, 401, `${route.method} ${route.url}: ${what}`);
      if (route.method !== 'HEAD') {
        t.match(res.json(), { error: 'ADMIN_UNAUTHORIZED', message: String }, `${route.method} ${route.url}: ${what}`);
      }
      t.same(leaksB(res.body), [], `${route.method} ${route.url}: ${what}: nothing of B in the answer`);
    }
  }
  t.same(await snapshotB(), before, "B's tenant, contacts, ingest state and jobs are unchanged");
});

/** A body that would change B if the route ran. */
function hostileBody(route: AppRoute): { payload?: object } {
  if (route.method === 'GET' || route.method === 'HEAD') return {};
  if (route.url.endsWith('/contacts')) return { payload: [{ id: 'bravo-contact-1', deleted: true }] };
  if (route.url.endsWith('/add')) return { payload: { name: 'incremental', data: { kind: 'incremental', tenantId: 'x' } } };
  return { payload: { name: 'Taken over', auth: authA } };
}

t.test("tenant A's credentials and tokens return only A's contacts and never change B", async (t) => {
  const { h, snapshotB, leaksB } = await fixture(t);
  // B's own page, taken before the snapshot: what it records about B's copy (the delivery
  // record) is B's doing, and everything after must leave B's credential row as it is.
  const pageB = (await h.sync({ auth: authB, meta: {} })).body;
  const before = await snapshotB();
  const pages: string[] = [];
  const call = async (body: unknown) => {
    const res = await h.sync(body);
    pages.push(JSON.stringify(res.body));
    return res;
  };

  const full = await syncRun(call, authA);
  t.same(full.contacts.map((c) => c.id).sort(), contactsA.map((c) => c.id).sort(), "a full run of A is A's contacts");
  t.equal(full.contacts.find((c) => c.id === 'shared-contact-id')?.name, 'Alpha Shared', "a shared id is A's own contact");
  t.ok(full.pages > 1, 'over several pages');
  const incremental = await syncRun(call, authA, full.checkpoint);
  t.same(incremental.contacts, [], 'an incremental run of A sees nothing of B');
  const fromInstant = await syncRun(call, authA, '2000-01-01 00:00:00 UTC');
  t.same(fromInstant.contacts.map((c) => c.id).sort(), contactsA.map((c) => c.id).sort(), 'a plain timestamp checkpoint reads A only');
  for (const page of pages) t.same(leaksB(page), [], 'no page of A holds anything of B');

  // B's tokens presented with A's credentials, and A's tokens with B's: refused, not a page.
  const pageA = (await h.sync({ auth: authA, meta: {} })).body;
  const crossed: Array<[string, unknown, string]> = [
    ["B's offset with A's credentials", { auth: authA, meta: { offset: pageB.next_offset } }, 'INVALID_OFFSET'],
    ["B's checkpoint with A's credentials", { auth: authA, meta: { synchronization_checkpoint: pageB.synchronization_checkpoint } }, 'INVALID_CHECKPOINT'],
    ["A's offset with B's credentials", { auth: authB, meta: { offset: pageA.next_offset } }, 'INVALID_OFFSET'],
    [
      "A's checkpoint and B's offset with A's credentials",
      { auth: authA, meta: { synchronization_checkpoint: full.checkpoint, offset: pageB.next_offset } },
      'INVALID_OFFSET',
    ],
  ];
  for (const [what, body, error] of crossed) {
    const res = await h.sync(body);
    t.equal(res.statusCode, 400, what);
    t.equal(res.body.error, error, what);
    t.same(leaksB(JSON.stringify(res.body)), [], `${what}: nothing of B`);
  }

  const validation = await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: authA } });
  t.equal(validation.statusCode, 204, "auth validation of A's credentials");
  t.equal(validation.body, '', 'answers nothing about any tenant');

  t.same(await snapshotB(), before, "B's data is unchanged by A's syncs and tokens");
});

t.test("with the admin token, a route called with A's id never touches B", async (t) => {
  const f = await fixture(t);
  const before = await f.snapshotB();
  // Deleting A goes last: the other cases need A.
  const order = Object.keys(tenantScopedCases).sort((a, b) => Number(a === 'DELETE /admin/tenants/:id') - Number(b === 'DELETE /admin/tenants/:id'));
  for (const key of order) {
    await t.test(key, async (t) => {
      await tenantScopedCases[key]!(f, t);
      t.same(await f.snapshotB(), before, `${key} with A's id leaves B's data and jobs unchanged`);
    });
  }
  const run = await syncRun(f.h.sync, authB);
  t.same(run.contacts.map((c) => c.id).sort(), contactsB.map((c) => c.id).sort(), "B still syncs all of its contacts, as they were");
  t.equal(run.contacts.find((c) => c.id === 'shared-contact-id')?.name, 'Bravo Shared');
});

t.test('public routes hold nothing of any tenant', async (t) => {
  const { h, idB, leaksB } = await fixture(t);
  for (const route of PUBLIC_ROUTES) {
    const url = fillPath(route, { '*': 'swagger-ui.css' });
    const res = await h.app.inject({ method: 'GET', url });
    t.ok(res.statusCode < 500, `${url}: ${res.statusCode}`);
    const leaks = leaksB(res.body).filter((s) => !(url === '/metrics' && s === idB));
    t.same(leaks, [], `${url}: no contact, name or credential of B`);
    t.notMatch(res.body, authA.api_key, `${url}: no credential of A`);
    t.notMatch(res.body, 'Alpha Person', `${url}: no contact of A`);
  }
});

t.test("a webhook receiver called without its subscription's credentials changes nothing of B's", async (t) => {
  const { h, idB, snapshotB, leaksB } = await fixture(t);
  const before = await snapshotB();
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const event = { meta: { action: 'delete', entity: 'person', entity_id: 'bravo-contact-1', company_id: 1 }, data: null, previous: { id: 1 } };
  for (const [what, headers] of [
    ['no credentials', {}],
    ["B's Talkdesk credential as the password", { authorization: basic('pipedrive', authB.api_key) }],
    ['the admin token', { authorization: `Bearer ${ADMIN_TOKEN}` }],
  ] as Array<[string, Record<string, string>]>) {
    for (const id of [idB, 'bravo-subscription']) {
      const res = await h.app.inject({ method: 'POST', url: `/webhooks/pipedrive/${id}`, headers, payload: event });
      t.equal(res.statusCode, 401, `${what}, id ${id}`);
      t.same(leaksB(res.body), [], `${what}: nothing of B in the answer`);
    }
  }
  t.same(await snapshotB(), before, "B's tenant, contacts, ingest state and jobs are unchanged");
});
