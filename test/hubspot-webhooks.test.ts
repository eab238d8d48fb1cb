import t, { type Test } from 'tap';
import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';
import { buildTestApp } from './helpers/app.js';
import { testRedisUrl } from './helpers/services.js';
import { crmTruth, diff, diffCount, TalkdeskCopy } from '../harness/talkdesk/copy.js';
import { signatureHeaders, type Subscription } from '../harness/hubspot-sim/webhooks.js';
import { HUBSPOT_CONTACT_PROPERTIES } from '../src/crm/hubspot/mapping.js';
import { createTenant } from '../src/tenants/repository.js';
import { webhookQueue } from '../src/webhooks/queue.js';
import { freePort } from '../harness/free-port.js';

const PORTAL = 7101;
const APP = { appId: 777_001, clientId: 'webhook-client', clientSecret: 'webhook-client-secret' };
// What the README tells a customer to subscribe to.
const SUBSCRIPTIONS: Subscription[] = [
  { subscriptionType: 'contact.creation' },
  { subscriptionType: 'contact.deletion' },
  { subscriptionType: 'contact.privacyDeletion' },
  { subscriptionType: 'contact.merge' },
  { subscriptionType: 'contact.restore' },
  ...HUBSPOT_CONTACT_PROPERTIES.map((propertyName) => ({ subscriptionType: 'contact.propertyChange' as const, propertyName })),
];


t.test('edits, creations, deletions, restores, privacy deletions and merges reach the mirror through signed webhooks alone', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: ['tok'], contacts: 30 }], apps: [APP], webhooks: { retryDelayMs: 50 } });
  const port = await freePort();
  // Polling only once an hour: what reaches the mirror after the backfill came through webhooks.
  const h = await buildIngestStack(t, sim, {
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    HUBSPOT_CLIENT_SECRET: APP.clientSecret,
    SYNC_INTERVAL_SECONDS: '3600',
    SYNC_PAGE_SIZE: '100',
  });
  await h.runtime.listen();
  sim.control.webhooks.addTarget({ appId: APP.appId, targetUrl: `http://127.0.0.1:${port}/webhooks/hubspot`, portalIds: [PORTAL], subscriptions: SUBSCRIPTIONS });

  const talkdesk = new TalkdeskCopy(h.sync, { access_token: 'tok' });
  const equal = async () => {
    await talkdesk.sync();
    return diffCount(diff(talkdesk.contacts, crmTruth(sim.control, PORTAL))) === 0;
  };
  await eventually('backfill', async () => (await equal()) && talkdesk.checkpoint !== undefined);
  const searchesBefore = JSON.stringify(sim.control.stats().byEndpoint['contacts.search'] ?? {});

  const [a, b, c, d, e, f] = sim.control.liveContacts({ portalId: PORTAL }).slice(0, 6).map((x) => x.id);
  sim.control.editContact(a!, { firstname: 'Edited', jobtitle: 'By webhook' }, { portalId: PORTAL });
  sim.control.createContacts([{ firstname: 'Brand', lastname: 'New', phone: '(415) 555-0132' }], { portalId: PORTAL });
  sim.control.archiveContacts([b!, f!], { portalId: PORTAL });
  sim.control.restoreContacts([f!], { portalId: PORTAL });
  sim.control.privacyDeleteContacts([c!], { portalId: PORTAL });
  sim.control.mergeContacts(d!, e!, { portalId: PORTAL });
  await eventually('the mirror equals the CRM', equal, 30_000);
  t.match(talkdesk.contacts.get(a!), { name: /^Edited/, title: 'By webhook' });
  t.ok(talkdesk.contacts.has(f!), 'a contact deleted and restored is live');
  t.notOk(talkdesk.contacts.has(d!), 'the merged-away contact is gone; its survivor stays');
  t.ok(talkdesk.contacts.has(e!));

  const { rows: erased } = await h.database.db.execute<{ name: string; phones: string[] | null; history: string }>(sql`
    SELECT name, phones, (SELECT count(*) FROM contact_history WHERE contact_id = ${c!}) AS history FROM contacts WHERE id = ${c!}`);
  t.same(erased, [{ name: '', phones: null, history: '0' }], 'a privacy deletion leaves no data and no history of the contact');
  const { rows: sources } = await h.database.db.execute<{ source: string }>(sql`SELECT DISTINCT source FROM contact_history WHERE contact_id = ${a!} AND source <> 'backfill'`);
  t.same(sources, [{ source: 'webhook' }], 'written by the webhook worker');
  t.equal(JSON.stringify(sim.control.stats().byEndpoint['contacts.search'] ?? {}), searchesBefore, 'without a single poll');
  const { rows: received } = await h.database.db.execute<{ at: string | null }>(sql`SELECT webhooks_received_at::text AS at FROM ingest_state`);
  t.ok(received[0]?.at, "the tenant's webhooks are known to arrive");

  // Deliveries lost, repeated, late and out of order: each re-reads the current state, and the
  // writer never stores an older version over a newer one. (Lost ones are the poll's to catch.)
  sim.control.webhooks.setFaults({ duplicateNext: 2, duplicateRate: 0.3, delayMs: 30, reorder: true });
  const live = sim.control.liveContacts({ portalId: PORTAL }).slice(0, 5).map((x) => x.id);
  for (let round = 0; round < 4; round++) {
    for (const id of live) sim.control.editContact(id, { jobtitle: `round ${round}`, lastname: `L${round}` }, { portalId: PORTAL });
    // A turn of the event loop: each round is a batch of its own, so batches can overtake each other.
    await new Promise((r) => setTimeout(r, 5));
  }
  sim.control.archiveContacts([live[4]!], { portalId: PORTAL });
  await sim.control.webhooks.settled();
  t.ok(sim.control.webhooks.stats().duplicated > 0, 'some deliveries came twice');
  await eventually('the mirror equals the CRM after faulty deliveries', equal, 30_000);
  t.match(talkdesk.contacts.get(live[0]!), { title: 'round 3' });
});

async function refusalStack(t: Test, env: Record<string, string> = {}) {
  const h = await buildTestApp(t, { CRM: 'hubspot', PUBLIC_URL: 'https://bridge.example.com', HUBSPOT_CLIENT_SECRET: APP.clientSecret, ...env });
  const redis = new Redis(await testRedisUrl(), { maxRetriesPerRequest: null });
  const queue = webhookQueue(redis, h.config.QUEUE_PREFIX);
  t.teardown(async () => {
    await queue.close();
    redis.disconnect();
  });
  await createTenant(h.database.db, h.runtime.keys, { name: 'hs', crm: 'hubspot', crmAccountId: String(PORTAL), auth: { access_token: 'tok' }, backfillComplete: true });
  const post = (body: string, headers: Record<string, string>, url = '/webhooks/hubspot') =>
    h.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: body });
  const queued = async () => (await queue.getJobCounts('waiting')).waiting ?? 0;
  return { ...h, post, queued };
}

const event = (portalId: number, objectId = 1) =>
  ({ eventId: 1, subscriptionId: 1, portalId, appId: APP.appId, occurredAt: Date.now(), subscriptionType: 'contact.propertyChange', attemptNumber: 0, objectId, propertyName: 'firstname', propertyValue: 'x' });

t.test('forged, unsigned, stale and wrong-URI deliveries are refused with 401 and queue nothing', async (t) => {
  const h = await refusalStack(t);
  const body = JSON.stringify([event(PORTAL)]);
  const uri = 'https://bridge.example.com/webhooks/hubspot';
  const now = String(Date.now());

  const attacks: Array<[string, Record<string, string>]> = [
    ['unsigned', {}],
    ['forged (another secret)', signatureHeaders('not-the-secret', 'POST', uri, body, now)],
    ['stale (signed 6 minutes ago: a replay)', signatureHeaders(APP.clientSecret, 'POST', uri, body, String(Date.now() - 6 * 60_000))],
    ['from the future', signatureHeaders(APP.clientSecret, 'POST', uri, body, String(Date.now() + 6 * 60_000))],
    ['signed for another host', signatureHeaders(APP.clientSecret, 'POST', 'https://evil.example.com/webhooks/hubspot', body, now)],
    ['signed for another path', signatureHeaders(APP.clientSecret, 'POST', 'https://bridge.example.com/other', body, now)],
    ['signed over another body', signatureHeaders(APP.clientSecret, 'POST', uri, JSON.stringify([event(PORTAL, 2)]), now)],
    ['timestamp swapped after signing', { ...signatureHeaders(APP.clientSecret, 'POST', uri, body, now), 'x-hubspot-request-timestamp': String(Number(now) + 1) }],
    ['only the v1 signature', { 'x-hubspot-signature': signatureHeaders(APP.clientSecret, 'POST', uri, body, now)['x-hubspot-signature']! }],
  ];
  for (const [name, headers] of attacks) {
    const res = await h.post(body, headers);
    t.equal(res.statusCode, 401, name);
    t.equal(res.json().error, 'INVALID_SIGNATURE', name);
  }
  t.equal(await h.queued(), 0, 'nothing queued');
  const { rows } = await h.database.db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM ingest_state WHERE webhooks_received_at IS NOT NULL`);
  t.equal(rows[0]!.n, '0', 'nothing written');

  const big = JSON.stringify([{ ...event(PORTAL), propertyValue: 'x'.repeat(300_000) }]);
  const tooLarge = await h.post(big, signatureHeaders(APP.clientSecret, 'POST', uri, big, now));
  t.equal(tooLarge.statusCode, 413, 'a body over the limit is refused before it is hashed');
  const notJson = await h.post('[{', signatureHeaders(APP.clientSecret, 'POST', uri, '[{', now));
  t.match(notJson, { statusCode: 400 });
  t.equal(notJson.json().error, 'INVALID_DELIVERY', 'signed but not JSON: a clear 400');
  const tooMany = JSON.stringify(Array.from({ length: 101 }, (_, i) => event(PORTAL, i + 1)));
  t.equal((await h.post(tooMany, signatureHeaders(APP.clientSecret, 'POST', uri, tooMany, now))).statusCode, 400, 'more than 100 events');
  t.equal(await h.queued(), 0);

  const ok = await h.post(body, signatureHeaders(APP.clientSecret, 'POST', uri, body, now));
  t.equal(ok.statusCode, 200, 'the genuine delivery is taken');
  t.same(ok.json(), { queued: 1, unknown: 0 });
  t.equal(await h.queued(), 1);
});

t.test('events of portals that are no tenant here are counted and dropped', async (t) => {
  const h = await refusalStack(t);
  const body = JSON.stringify([event(PORTAL, 1), event(424242, 2), event(424242, 3)]);
  const res = await h.post(body, signatureHeaders(APP.clientSecret, 'POST', 'https://bridge.example.com/webhooks/hubspot', body, String(Date.now())));
  t.same(res.json(), { queued: 1, unknown: 2 });
  t.equal(await h.queued(), 1, "only the tenant's event is queued");
  const scrape = await h.runtime.metrics.scrape();
  t.match(scrape, /bridge_webhook_events_total\{crm="hubspot",result="unknown_account"\} 2/);
  t.match(scrape, /bridge_webhook_events_total\{crm="hubspot",result="queued"\} 1/);
});

t.test('without HUBSPOT_CLIENT_SECRET the webhook path does not exist', async (t) => {
  const h = await buildTestApp(t, { CRM: 'hubspot' });
  const body = JSON.stringify([event(PORTAL)]);
  const res = await h.app.inject({ method: 'POST', url: '/webhooks/hubspot', headers: { 'content-type': 'application/json' }, payload: body });
  t.equal(res.statusCode, 404);
  t.equal(res.json().error, 'NOT_FOUND');
});
