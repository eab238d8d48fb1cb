import { createServer } from 'node:http';
import t, { type Test } from 'tap';
import { sql } from 'drizzle-orm';
import { buildPipedriveSim, type PipedriveSim } from '../harness/pipedrive-sim/server.js';
import { adminHeaders, type TestApp } from './helpers/app.js';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';
import { PIPEDRIVE_WEBHOOK_BODY_LIMIT } from '../src/webhooks/pipedrive-route.js';

const COMPANY = 7003;
const TOKEN = 'pd-webhook-token';

async function startPipedrive(t: Test, persons: number): Promise<PipedriveSim & { url: string }> {
  const sim = await buildPipedriveSim({
    companies: [{ companyId: COMPANY, name: 'Hooked', domain: 'hooked', tokens: [TOKEN], persons, windowLimit: 120 }],
    webhooks: { retryDelayMs: 200, maxAttempts: 3, timeoutMs: 5_000 },
  });
  await sim.app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => sim.app.close());
  return { ...sim, url: `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}` };
}

/**
 * A public address for the bridge before it exists (PUBLIC_URL is configuration): a loopback
 * server that hands each request to the app once `target` is set.
 */
async function publicAddress(t: Test): Promise<{ url: string; target: { app?: TestApp['app'] } }> {
  const target: { app?: TestApp['app'] } = {};
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!target.app) {
        res.statusCode = 503;
        res.end();
        return;
      }
      target.app
        .inject({ method: req.method as 'POST', url: req.url!, headers: req.headers, payload: Buffer.concat(chunks) })
        .then((answer) => {
          res.statusCode = answer.statusCode;
          res.end(answer.body);
        })
        .catch(() => {
          res.statusCode = 500;
          res.end();
        });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, target };
}

type Row = { id: string; name: string; emails: string[] | null; deleted: boolean };

async function mirror(h: TestApp): Promise<Map<string, Row>> {
  const { rows } = await h.database.db.execute<Row>(sql`SELECT id, name, emails, deleted_at IS NOT NULL AS deleted FROM contacts`);
  return new Map(rows.map((r) => [r.id, r]));
}

async function sources(h: TestApp, id: string): Promise<string[]> {
  const { rows } = await h.database.db.execute<{ source: string }>(sql`SELECT source FROM contact_history WHERE contact_id = ${id} ORDER BY at`);
  return rows.map((r) => r.source);
}

t.test('webhooks: subscribed at onboarding; edits, creations, deletions and merges reach the mirror within seconds with polling off', async (t) => {
  const sim = await startPipedrive(t, 20);
  const pub = await publicAddress(t);
  const h = await buildIngestStack(
    t,
    { url: 'http://127.0.0.1:9', control: undefined as never },
    {
      CRM: 'pipedrive',
      PIPEDRIVE_BASE_URL: sim.url,
      PIPEDRIVE_OVERLAP_SECONDS: '0',
      PUBLIC_URL: pub.url,
      // No poll after the backfill within the test: what arrives, arrives by webhook.
      SYNC_INTERVAL_SECONDS: '3600',
      DELETE_RECONCILE_SECONDS: '3600',
    },
    { overrides: { webhookSubscriptionsMs: 300 } },
  );
  pub.target.app = h.app;
  t.equal((await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: { api_token: TOKEN } } })).statusCode, 204);
  const tenant = (await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`)).rows[0]!.id;

  await eventually('the subscription is made', async () => sim.control.webhooks.all().length === 1, 15_000);
  const [hook] = sim.control.webhooks.all();
  const { rows: subs } = await h.database.db.execute<{ id: string; state: string }>(sql`SELECT id, state FROM webhook_subscriptions`);
  t.match(hook, { event_object: 'person', event_action: '*', version: '2.0', subscription_url: `${pub.url}/webhooks/pipedrive/${subs[0]!.id}`, http_auth_user: String });
  t.ok(hook!.http_auth_password!.length >= 32, 'a random secret');
  t.notMatch(hook!.subscription_url, hook!.http_auth_password!, 'the secret is not in the URL');
  const { rows: stored } = await h.database.db.execute<{ secret: string }>(sql`SELECT secret FROM webhook_subscriptions`);
  t.notMatch(stored[0]!.secret, hook!.http_auth_password!, 'stored encrypted');
  t.notMatch(stored[0]!.secret, TOKEN);
  await eventually('the backfill', async () => (await mirror(h)).size === 20, 15_000);
  await eventually('the subscription is active', async () => {
    const r = await h.database.db.execute<{ state: string }>(sql`SELECT state FROM webhook_subscriptions`);
    return r.rows[0]?.state === 'active';
  });

  const [a, b, c] = sim.control.persons();
  sim.control.editPerson(a!.id, { name: 'Edited By Hook' });
  const [created] = sim.control.createPersons([{ name: 'Created By Hook' }]);
  sim.control.deletePerson(b!.id);
  sim.control.mergePersons(c!.id, a!.id);
  await eventually(
    'every change arrives through the webhooks',
    async () => {
      const m = await mirror(h);
      const survivor = sim.control.persons().find((p) => p.id === a!.id)!;
      return (
        m.get(String(a!.id))?.name === 'Edited By Hook' &&
        m.get(String(created!.id))?.name === 'Created By Hook' &&
        m.get(String(b!.id))?.deleted === true &&
        m.get(String(c!.id))?.deleted === true &&
        survivor.emails.every((e) => m.get(String(a!.id))?.emails?.includes(e.value.trim()) ?? false)
      );
    },
    15_000,
  );
  t.equal((await sources(h, String(created!.id))).at(-1), 'webhook', 'written by the webhook worker, not a poll');
  t.ok(sim.control.stats().byEndpoint['persons.list']! > 0);

  // A repeated, late delivery of the first edit's event changes nothing: the person is read again.
  sim.control.webhooks.setFaults({ duplicateNext: 1, delayMs: 300 });
  sim.control.editPerson(a!.id, { name: 'Edited Twice' });
  await eventually('the second edit', async () => (await mirror(h)).get(String(a!.id))?.name === 'Edited Twice', 15_000);
  await sim.control.webhooks.settled();
  t.equal((await mirror(h)).get(String(a!.id))?.name, 'Edited Twice');

  await t.test('reordered, repeated and late deliveries never leave an older version in the mirror', async (t) => {
    sim.control.webhooks.setFaults({ reorder: true, delayMs: 400, duplicateRate: 0.5 });
    const target = sim.control.persons()[3]!;
    for (let i = 1; i <= 8; i++) {
      sim.control.editPerson(target.id, { name: `Version ${i}` }, { at: Date.now() + i * 1000 });
      await new Promise((r) => setTimeout(r, 50));
    }
    await sim.control.webhooks.settled();
    await eventually('the last version', async () => (await mirror(h)).get(String(target.id))?.name === 'Version 8', 15_000);
    await eventually('the webhook queue is idle', async () => {
      const c = await h.workers!.webhooks.queue.getJobCounts('waiting', 'active', 'delayed');
      return c.waiting === 0 && c.active === 0 && c.delayed === 0;
    });
    t.equal((await mirror(h)).get(String(target.id))?.name, 'Version 8', 'and it stays');
    sim.control.webhooks.setFaults({});
  });

  await t.test('forged or unauthenticated webhooks change nothing', async (t) => {
    const before = await mirror(h);
    const hooksQueued = async () => (await h.workers!.webhooks.queue.getJobCounts('waiting', 'active', 'completed', 'delayed', 'failed'));
    await sim.control.webhooks.settled();
    await eventually('the webhook queue is idle', async () => {
      const c = await hooksQueued();
      return c.waiting === 0 && c.active === 0 && c.delayed === 0;
    });
    const countsBefore = await hooksQueued();
    const url = `/webhooks/pipedrive/${subs[0]!.id}`;
    const event = { meta: { action: 'delete', entity: 'person', entity_id: String(created!.id), company_id: String(COMPANY), version: '2.0' }, data: null, previous: {} };
    const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const attempts: Array<[string, Record<string, string>, string]> = [
      ['no credentials', {}, url],
      ['a wrong password', { authorization: basic(hook!.http_auth_user!, 'guess') }, url],
      ['the right password for another id', { authorization: basic(hook!.http_auth_user!, hook!.http_auth_password!) }, '/webhooks/pipedrive/not-a-subscription'],
      ['bearer instead of basic', { authorization: `Bearer ${hook!.http_auth_password}` }, url],
      ['a malformed header', { authorization: 'Basic !!!' }, url],
    ];
    for (const [what, headers, to] of attempts) {
      const res = await h.app.inject({ method: 'POST', url: to, headers, payload: event });
      t.equal(res.statusCode, 401, what);
      t.match(res.json(), { error: 'UNAUTHORIZED' });
    }
    const huge = await h.app.inject({
      method: 'POST',
      url,
      headers: { authorization: basic(hook!.http_auth_user!, hook!.http_auth_password!), 'content-type': 'application/json' },
      payload: JSON.stringify({ ...event, pad: 'x'.repeat(PIPEDRIVE_WEBHOOK_BODY_LIMIT) }),
    });
    t.equal(huge.statusCode, 413, 'a body over the limit is refused');
    const notJson = await h.app.inject({
      method: 'POST',
      url,
      headers: { authorization: basic(hook!.http_auth_user!, hook!.http_auth_password!), 'content-type': 'application/json' },
      payload: '{"meta":',
    });
    t.equal(notJson.statusCode, 400, 'malformed JSON is a 400, never a 500');
    t.same(await hooksQueued(), countsBefore, 'nothing was queued');
    // Authenticated, but naming a person of another company: the connector drops it.
    const foreign = await h.app.inject({
      method: 'POST',
      url,
      headers: { authorization: basic(hook!.http_auth_user!, hook!.http_auth_password!) },
      payload: { ...event, meta: { ...event.meta, company_id: '1' } },
    });
    t.equal(foreign.statusCode, 200);
    // A delete of a person Pipedrive still has: read again, it stays.
    const lying = await h.app.inject({ method: 'POST', url, headers: { authorization: basic(hook!.http_auth_user!, hook!.http_auth_password!) }, payload: event });
    t.equal(lying.statusCode, 200);
    await eventually('both processed', async () => {
      const counts = await hooksQueued();
      return counts.completed! >= countsBefore.completed! + 2 && counts.waiting === 0 && counts.active === 0;
    });
    t.same(await mirror(h), before, 'the mirror is as it was');
  });

  await t.test('deleting the tenant removes its subscription at Pipedrive', async (t) => {
    t.equal((await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${tenant}`, headers: adminHeaders })).statusCode, 204);
    await eventually('unsubscribed', async () => sim.control.webhooks.all().length === 0, 15_000);
    await eventually('forgotten', async () => (await h.database.db.execute(sql`SELECT 1 FROM webhook_subscriptions`)).rows.length === 0);
    t.pass();
  });
});

t.test('every webhook dropped: polling alone keeps the mirror, beside a HubSpot tenant in the same process', async (t) => {
  const sim = await startPipedrive(t, 15);
  sim.control.webhooks.setFaults({ dropRate: 1 });
  const hubspot = await startSim(t, { portals: [{ portalId: 4242, contacts: 15, tokens: ['hs-side-token'] }] });
  const pub = await publicAddress(t);
  const h = await buildIngestStack(
    t,
    hubspot,
    {
      CRM: 'all',
      PIPEDRIVE_BASE_URL: sim.url,
      PIPEDRIVE_OVERLAP_SECONDS: '0',
      PUBLIC_URL: pub.url,
      SYNC_INTERVAL_SECONDS: '1',
      DELETE_RECONCILE_SECONDS: '1',
    },
    { overrides: { webhookSubscriptionsMs: 300 } },
  );
  pub.target.app = h.app;
  for (const auth of [{ api_token: TOKEN }, { access_token: 'hs-side-token' }]) {
    t.equal((await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth } })).statusCode, 204, Object.keys(auth).join());
  }
  const tenantOf = async (crm: string) => (await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants WHERE crm = ${crm}`)).rows[0]!.id;
  const pd = await tenantOf('pipedrive');
  const hs = await tenantOf('hubspot');
  const live = async (tenant: string) =>
    Number((await h.database.db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM contacts WHERE tenant_id = ${tenant} AND deleted_at IS NULL`)).rows[0]!.n);
  await eventually('both backfills', async () => (await live(pd)) === 15 && (await live(hs)) === 15, 30_000);

  const [a, b, c] = sim.control.persons();
  sim.control.editPerson(a!.id, { name: 'Polled Edit' });
  const [created] = sim.control.createPersons([{ name: 'Polled Create' }]);
  sim.control.deletePerson(b!.id);
  sim.control.mergePersons(c!.id, a!.id);
  const hsContact = hubspot.control.liveContacts({ portalId: 4242 })[0]!;
  hubspot.control.editContact(hsContact.id, { firstname: 'Side', lastname: 'By Side' }, { portalId: 4242 });
  await eventually(
    'every change arrives by polling, deletions and merges through the sweep',
    async () => {
      const { rows } = await h.database.db.execute<{ id: string; tenant_id: string; name: string; deleted: boolean }>(
        sql`SELECT tenant_id, id, name, deleted_at IS NOT NULL AS deleted FROM contacts`,
      );
      const get = (tenant: string, id: string | number) => rows.find((r) => r.tenant_id === tenant && r.id === String(id));
      return (
        get(pd, a!.id)?.name === 'Polled Edit' &&
        get(pd, created!.id)?.name === 'Polled Create' &&
        get(pd, b!.id)?.deleted === true &&
        get(pd, c!.id)?.deleted === true &&
        get(hs, hsContact.id)?.name === 'Side By Side'
      );
    },
    30_000,
  );
  t.ok(sim.control.webhooks.stats().dropped > 0, 'webhooks were sent and dropped');
  t.equal(sim.control.webhooks.stats().delivered, 0);
  t.notOk((await sources(h, String(created!.id))).includes('webhook'));

  // The token is revoked: the tenant's credentials fail, and its subscription goes (Pipedrive
  // refuses the removal too, so the bridge forgets it and refuses its deliveries from now on).
  const [hook] = sim.control.webhooks.all();
  t.ok(hook, 'the Pipedrive tenant was subscribed');
  sim.control.revokeToken(TOKEN);
  await eventually('the subscription is forgotten', async () => (await h.database.db.execute(sql`SELECT 1 FROM webhook_subscriptions`)).rows.length === 0, 30_000);
  const late = await h.app.inject({
    method: 'POST',
    url: new URL(hook!.subscription_url).pathname,
    headers: { authorization: `Basic ${Buffer.from(`${hook!.http_auth_user}:${hook!.http_auth_password}`).toString('base64')}` },
    payload: { meta: { action: 'change', entity: 'person', entity_id: String(a!.id), company_id: String(COMPANY) } },
  });
  t.equal(late.statusCode, 401, 'a delivery to a forgotten subscription is refused');
});
