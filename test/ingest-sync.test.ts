import t from 'tap';
import { sql } from 'drizzle-orm';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';
import { crmTruth, diff, TalkdeskCopy } from '../harness/talkdesk/copy.js';

const PORTAL = 7001;

t.test('edits, creations and archivals in the CRM reach Talkdesk; archived ones leave through a full resync', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: ['tok'], contacts: 300 }] });
  const h = await buildIngestStack(t, sim, { SYNC_PAGE_SIZE: '100', DELETE_RECONCILE_SECONDS: '1' });
  const talkdesk = new TalkdeskCopy(h.sync, { access_token: 'tok' });
  await talkdesk.sync();
  await eventually('backfill', async () => {
    await talkdesk.sync();
    return talkdesk.checkpoint !== undefined && diff(talkdesk.contacts, crmTruth(sim.control, PORTAL)).missing.length === 0;
  });

  const [a, b, c, d, e] = sim.control.liveContacts().slice(0, 5).map((x) => x.id);
  sim.control.editContact(a!, { firstname: 'Edited', jobtitle: 'New title' });
  sim.control.editContact(b!, { company: '', jobtitle: null }); // emptied fields disappear
  sim.control.touchContact(c!); // a change of nothing
  sim.control.archiveContacts([d!, e!]);
  sim.control.createContacts([{ firstname: 'Brand', lastname: 'New', email: 'brand.new@example.com', phone: '(415) 555-0132' }]);

  await eventually('Talkdesk equals the CRM', async () => {
    await talkdesk.sync();
    const delta = diff(talkdesk.contacts, crmTruth(sim.control, PORTAL));
    return delta.missing.length + delta.stale.length + delta.deletedButPresent.length === 0;
  });
  t.notOk(talkdesk.contacts.has(d!), 'archived contacts left the copy');
  t.ok(talkdesk.fullRuns >= 2, 'through a full resync');
  t.match(talkdesk.contacts.get(a!), { name: /^Edited/, title: 'New title' });
  t.match([...talkdesk.contacts.values()].find((x) => x.name === 'Brand New'), { phones: ['+14155550132'] });
  t.type(talkdesk.checkpoint, 'string', 'and incremental syncs resume after it');
});

t.test('more than 10,000 contacts bulk-updated to the same lastmodifieddate are all ingested', async (t) => {
  const limits = { tenSecondly: 2000, searchPerSecond: 100 };
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: ['bulk'], contacts: 10_600, rateLimits: limits }] });
  const h = await buildIngestStack(t, sim, {
    HUBSPOT_TEN_SECOND_LIMIT: '2000',
    HUBSPOT_SEARCH_PER_SECOND_LIMIT: '100',
    SYNC_PAGE_SIZE: '5000',
  });
  const auth = { access_token: 'bulk' };
  await h.sync({ auth, meta: {} });
  await eventually('backfill', async () => (await h.sync({ auth, meta: {} })).body.synchronization_checkpoint !== undefined, 120_000);

  const { lastmodifieddate, updated } = sim.control.bulkEdit({ count: 10_600, properties: { jobtitle: 'Imported' } });
  t.equal(updated, 10_600);
  await eventually(
    'every bulk-edited contact is mirrored',
    async () => {
      const { rows } = await h.database.db.execute<{ n: string }>(
        sql`SELECT count(*) AS n FROM contacts WHERE title = 'Imported' AND deleted_at IS NULL`,
      );
      return rows[0]!.n === '10600';
    },
    120_000,
  );
  const searches = sim.control.stats().byEndpoint['contacts.search'] ?? {};
  t.notOk(Object.keys(searches).some((status) => status !== '200'), `no search failed (${JSON.stringify(searches)})`);
  t.ok(lastmodifieddate, 'all at one instant');
});

t.test("a 429 storm on one tenant does not stall another tenant's ingest", async (t) => {
  const sim = await startSim(t, {
    portals: [
      { portalId: 8001, tokens: ['stormy'], contacts: 50 },
      { portalId: 8002, tokens: ['calm'], contacts: 50 },
    ],
  });
  const h = await buildIngestStack(t, sim, { WORKER_CONCURRENCY: '1' });
  for (const token of ['stormy', 'calm']) {
    await h.sync({ auth: { access_token: token }, meta: {} });
    await eventually(`${token} backfilled`, async () => (await h.sync({ auth: { access_token: token }, meta: {} })).body.synchronization_checkpoint !== undefined);
  }
  // Every call for 8001 is refused for a while, with a Retry-After each time.
  sim.control.rateLimitNext({ count: 10_000, retryAfterSeconds: 3, portalId: 8001 });
  const calm = new TalkdeskCopy(h.sync, { access_token: 'calm' });
  await calm.sync();
  sim.control.editContact(sim.control.liveContacts({ portalId: 8002 })[0]!.id, { firstname: 'Reached' }, { portalId: 8002 });
  await eventually('the calm tenant keeps flowing', async () => {
    await calm.sync();
    return [...calm.contacts.values()].some((c) => String(c.name).startsWith('Reached'));
  }, 20_000);
  t.ok(sim.control.stats().portals['8001']!.rateLimited > 0, 'while the other was being refused');
  const { rows } = await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants WHERE crm_account_id = '8001'`);
  await eventually('the stormy tenant waits as a delayed job', async () => {
    const delayed = await h.workers!.queue.getDelayed();
    return delayed.some((j) => j.data.tenantId === rows[0]!.id && j.data.kind !== 'tick');
  }, 10_000);
  t.notOk(await h.workers!.queue.isPaused(), 'the queue itself is never paused');
});
