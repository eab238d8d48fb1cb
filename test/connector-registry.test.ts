import t from 'tap';
import { sql } from 'drizzle-orm';
import { ConfigError, loadConfig } from '../src/config.js';
import { createConnectors } from '../src/crm/registry.js';
import { adminHeaders } from './helpers/app.js';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';

const env = { DATABASE_URL: 'postgres://x@h/d', REDIS_URL: 'redis://h', BRIDGE_SECRET: 'x'.repeat(32) };

t.test('CRM lists the connectors a process enables: all by default, none, or by name', async (t) => {
  t.same(createConnectors(loadConfig(env)).kinds, ['hubspot', 'pipedrive'], 'all by default');
  t.same(createConnectors(loadConfig({ ...env, CRM: 'pipedrive' })).kinds, ['pipedrive']);
  t.same(createConnectors(loadConfig({ ...env, CRM: 'hubspot' })).kinds, ['hubspot']);
  t.equal(createConnectors(loadConfig({ ...env, CRM: 'none' })).size, 0);
  t.throws(() => createConnectors(loadConfig({ ...env, CRM: 'hubspot,salesforce' })), ConfigError);
  t.throws(() => createConnectors(loadConfig({ ...env, CRM: 'salesforce' })), { message: /^CRM: unknown salesforce/ });
  t.throws(() => loadConfig({ ...env, CRM: 'HubSpot; drop' }), { message: /CRM/ }, 'the setting names the variable when malformed');
});

t.test("unknown credentials go to the one connector whose auth fields they have exactly", async (t) => {
  const registry = createConnectors(loadConfig(env));
  t.equal(registry.forAuth({ access_token: 'pat-1' })?.kind, 'hubspot');
  t.equal(registry.forAuth({ access_token: 'pat-1', extra: '1' }), undefined, 'an extra field: no connector');
  t.equal(registry.forAuth({ access_token: 7 }), undefined, 'a wrong type: no connector');
  t.equal(registry.forAuth({ access_token: '' }), undefined, 'an empty token: no connector');
  // Regression (issue 13): these reached the HTTP client and came back as a 503 with the token in it.
  for (const token of ['pat-1\n', 'pat 1', 'pat-1\u0000', '\tpat-1', 'pat-é', 'x'.repeat(1025)]) {
    t.equal(registry.forAuth({ access_token: token }), undefined, `a malformed token ${JSON.stringify(token.slice(0, 12))}: no connector`);
  }
  t.equal(registry.forAuth({ access_token: 'pat-na1-91d91373-8e94-4872-893c-e7d080224a56' })?.kind, 'hubspot', 'a private-app token');
  t.equal(registry.forAuth({ api_key: 'k' }), undefined, "another integration's fields: no connector");
  t.equal(registry.forAuth({ api_token: '0123456789abcdef0123456789abcdef01234567' })?.kind, 'pipedrive', "a Pipedrive user's API token");
  t.equal(registry.forAuth({ api_token: 'tok en' }), undefined, 'a malformed Pipedrive token: no connector');
  t.equal(registry.forAuth({ api_token: 'abc', access_token: 'pat-1' }), undefined, "both CRMs' fields: no connector");
});

t.test("credentials that fit no connector are refused without a CRM call, and a valid token's tenant is untouched", async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: 7101, tokens: ['pat-registry'], contacts: 20 }] });
  const h = await buildIngestStack(t, sim);
  const valid = { access_token: 'pat-registry' };
  t.equal((await h.sync({ auth: valid, meta: {} })).statusCode, 200, 'the real token onboards');
  await eventually('the backfill completes', async () => (await h.sync({ auth: valid, meta: {} })).body.synchronization_checkpoint !== undefined);
  const calls = sim.control.stats().requests;

  for (const auth of [{ ...valid, extra: '1' }, { access_token: ['pat-registry'] }, { token: 'pat-registry' }, { access_token: 'pat-registry\r\n' }, { access_token: ' pat-registry' }]) {
    const res = await h.sync({ auth, meta: {} });
    t.equal(res.statusCode, 401, `${JSON.stringify(auth)} is refused`);
  }
  t.equal(sim.control.stats().requests, calls, 'HubSpot was not called for any of them');
  const tenants = (await h.database.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM tenants`)).rows[0]!.n;
  t.equal(tenants, 1, 'no tenant made for them');
  const again = await h.sync({ auth: valid, meta: {} });
  t.equal(again.statusCode, 200, 'the real token still syncs');
  t.equal(sim.control.stats().requests, calls, 'without being verified again');
});

t.test('a pushed tenant is never handed to a connector, even in a process that ingests', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: 7102, tokens: ['pat-other'], contacts: 5 }] });
  const h = await buildIngestStack(t, sim);
  const created = await h.app.inject({ method: 'POST', url: '/admin/tenants', headers: adminHeaders, payload: { name: 'pushed', auth: { access_token: 'looks-like-hubspot' } } });
  t.equal(created.statusCode, 201);
  const id = created.json().id as string;
  await h.push(id, [{ id: '1', name: 'One' }]);
  // A few scheduler rounds: nothing may try HubSpot with the pushed tenant's credentials.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const tenant = (await h.database.db.execute<{ status: string }>(sql`SELECT status FROM tenants WHERE id = ${id}`)).rows[0]!;
  t.equal(tenant.status, 'active', 'still active: its credentials were never sent to HubSpot');
  t.equal(sim.control.stats().requests, 0, 'HubSpot was never called');
  t.equal((await h.sync({ auth: { access_token: 'looks-like-hubspot' }, meta: {} })).body.contacts.length, 1);
});
