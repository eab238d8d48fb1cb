import t, { type Test } from 'tap';
import { Client } from '@hubspot/api-client';
import { sql } from 'drizzle-orm';
import { buildHubSpotSim } from '../harness/hubspot-sim/server.js';
import { crmTruth, diff, diffCount, TalkdeskCopy } from '../harness/talkdesk/copy.js';
import { HubSpotConnector } from '../src/crm/hubspot/connector.js';
import { mergedIds, mergeTombstones } from '../src/crm/hubspot/merges.js';
import { RollingWindowLimiter } from '../src/crm/rate-limiter.js';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';

/**
 * Merges and privacy deletions: what the simulator does (as HubSpot does), and that a merge made
 * in HubSpot, with webhooks off and a private-app token, leaves Talkdesk with one contact.
 */

const PORTAL = 7101;
const TOKEN = 'pat-merges';

async function simClient(t: Test, contacts = 0) {
  const sim = await buildHubSpotSim({ portals: [{ portalId: PORTAL, tokens: [TOKEN], contacts }] });
  const basePath = await sim.app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => sim.app.close());
  return { ...sim, basePath, client: new Client({ accessToken: TOKEN, basePath, numberOfApiCallRetries: 0 }) };
}

async function everyId(client: Client, archived: boolean): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  do {
    const page = await client.crm.contacts.basicApi.getPage(100, after, ['hs_object_id'], undefined, undefined, archived);
    ids.push(...page.results.map((r) => r.id));
    after = page.paging?.next?.after;
  } while (after !== undefined);
  return ids;
}

async function searchIds(client: Client): Promise<string[]> {
  const page = await client.crm.contacts.searchApi.doSearch({ limit: 200, properties: ['hs_object_id'] } as never);
  return page.results.map((r) => r.id);
}

t.test('a merge in the simulator: the loser leaves every listing, the survivor lists it and is modified', async (t) => {
  const { client, control } = await simClient(t);
  const [loser, survivor, third] = control.createContacts(
    [
      { firstname: 'Ann', email: 'ann@old.example', phone: '555-0101', company: 'Old Co' },
      { firstname: 'Ann', lastname: 'Lee', email: 'ann@new.example' },
      { firstname: 'Bo', email: 'bo@example.com' },
    ],
    { at: Date.now() - 60_000 },
  );
  const merged = control.mergeContacts(loser!.id, survivor!.id);

  t.same(await everyId(client, false), [survivor!.id, third!.id], 'the loser is gone from the list');
  t.same(await everyId(client, true), [], 'and is not archived either: no listing reports it');
  t.same((await searchIds(client)).sort(), [survivor!.id, third!.id].sort(), 'nor does search');
  t.equal(merged.properties.hs_merged_object_ids, loser!.id, "the survivor's hs_merged_object_ids names the loser");
  t.ok(Date.parse(merged.updatedAt) > Date.parse(survivor!.updatedAt), 'the survivor is modified by the merge');
  t.match(merged.properties, {
    firstname: 'Ann',
    lastname: 'Lee',
    email: 'ann@new.example',
    hs_additional_emails: 'ann@old.example',
    phone: '555-0101',
    company: 'Old Co',
  }, "the survivor's values win; the loser's fill its blanks; the loser's email becomes an additional one");

  const read = await client.crm.contacts.basicApi.getById(loser!.id, ['hs_merged_object_ids', 'firstname']);
  t.equal(read.id, survivor!.id, "a read by the loser's id answers with the survivor");
  t.equal(read.properties.hs_merged_object_ids, loser!.id);

  // A chain: the survivor is merged in turn; the new survivor lists both ids, semicolon-separated.
  const last = control.mergeContacts(survivor!.id, third!.id);
  t.equal(last.properties.hs_merged_object_ids, [loser!.id, survivor!.id].sort((a, b) => Number(a) - Number(b)).join(';'));
  t.equal((await client.crm.contacts.basicApi.getById(loser!.id)).id, third!.id, 'an id merged twice reads as the last survivor');
  const listed = await client.crm.contacts.basicApi.getPage(10, undefined, ['hs_merged_object_ids']);
  t.same(listed.results.map((r) => [r.id, r.properties.hs_merged_object_ids]), [[third!.id, last.properties.hs_merged_object_ids]]);
  const fresh = control.createContacts([{ firstname: 'New' }]);
  const plain = await client.crm.contacts.basicApi.getById(fresh[0]!.id, ['hs_merged_object_ids']);
  t.equal(plain.properties.hs_merged_object_ids, null, 'a contact that absorbed none has null, as HubSpot answers');

  const refused = await fetch(`${await urlOf(client)}/crm/v3/objects/contacts/${third!.id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ properties: { hs_merged_object_ids: '1' } }),
  });
  t.equal(refused.status, 400, 'hs_merged_object_ids is read-only');
  t.throws(() => control.mergeContacts(third!.id, third!.id), 'a contact cannot be merged into itself');
  t.throws(() => control.mergeContacts(loser!.id, third!.id), 'nor can a merged-away id be merged again');
});

t.test('a privacy deletion: gone from the list, the archived list, search and reads', async (t) => {
  const { client, control, basePath } = await simClient(t);
  const [a, b, c] = control.createContacts([{ firstname: 'A' }, { firstname: 'B' }, { firstname: 'C' }]);
  control.archiveContacts([b!.id]);
  t.same(await everyId(client, true), [b!.id], 'an archival is listed as archived');

  const res = await fetch(`${basePath}/__sim/contacts/privacy-delete`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ids: [a!.id, b!.id] }),
  });
  t.same(await res.json(), { deleted: [a!.id, b!.id] }, 'live and archived contacts alike');
  t.same(await everyId(client, false), [c!.id]);
  t.same(await everyId(client, true), [], 'a privacy deletion leaves no archived trace');
  t.same(await searchIds(client), [c!.id]);
  for (const archived of [false, true]) {
    const gone = await client.crm.contacts.basicApi.getById(a!.id, undefined, undefined, undefined, archived).then(
      () => 200,
      (err: { code: number }) => err.code,
    );
    t.equal(gone, 404, `a read by its id finds nothing (archived=${archived})`);
  }
  const batch = await client.crm.contacts.batchApi.read({ inputs: [{ id: a!.id }, { id: c!.id }], properties: ['firstname'], propertiesWithHistory: [] });
  t.same(batch.results.map((r) => r.id), [c!.id]);
  t.same((batch as { errors?: Array<{ context?: { ids?: string[] } }> }).errors?.[0]?.context?.ids, [a!.id], 'a batch read names it not found');
});

t.test('merge ids: parsed from hs_merged_object_ids, never the record itself, tombstoned after the page', async (t) => {
  t.same(mergedIds({ id: '10', properties: { hs_merged_object_ids: '3;10; 7 ;;x;3' } }), ['3', '7'], 'numeric, distinct, not its own');
  t.same(mergedIds({ id: '10', properties: { hs_merged_object_ids: null } }), []);
  t.same(mergedIds({ id: '10', properties: {} }), []);
  t.same(
    mergeTombstones([
      { id: '3', properties: {} }, // a stale read of a merged-away id beside its survivor
      { id: '10', properties: { hs_merged_object_ids: '3;7' } },
      { id: '11', properties: { hs_merged_object_ids: '7' } },
    ]),
    [
      { id: '3', deleted: true },
      { id: '7', deleted: true },
    ],
  );
});

t.test("the connector's batch re-read: found contacts live, merged-away and vanished ids tombstoned", async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [TOKEN] }] });
  const [loser, survivor, archived, purged, plain] = sim.control.createContacts([
    { firstname: 'Lo', email: 'lo@example.com' },
    { firstname: 'Sur', email: 'sur@example.com' },
    { firstname: 'Arc' },
    { firstname: 'Pur' },
    { firstname: 'Plain' },
  ]);
  sim.control.mergeContacts(loser!.id, survivor!.id);
  sim.control.archiveContacts([archived!.id]);
  sim.control.privacyDeleteContacts([purged!.id]);
  const connector = new HubSpotConnector({
    baseUrl: sim.url,
    timeoutMs: 5_000,
    tenSecondLimit: 100,
    searchPerSecondLimit: 5,
    overlapSeconds: 0,
    defaultRegion: 'US',
    limiter: new RollingWindowLimiter(),
  });
  const asked = [loser!.id, archived!.id, purged!.id, plain!.id, '999999999'];
  const changes = await connector.reread({ accountId: String(PORTAL), auth: { access_token: TOKEN } }, asked);
  const live = changes.filter((c) => !('deleted' in c)).map((c) => c.id);
  const tombstoned = changes.filter((c) => 'deleted' in c).map((c) => c.id);
  t.same(live.sort(), [survivor!.id, plain!.id].sort(), 'the survivor (read by the loser id) and the plain contact');
  t.same(tombstoned.sort(), [loser!.id, archived!.id, purged!.id, '999999999'].sort(), 'every id that is no contact of its own');
  t.match(changes.find((c) => c.id === survivor!.id), { emails: ['sur@example.com', 'lo@example.com'] });
  t.same(sim.control.stats().byEndpoint['contacts.batch-read'], { 207: 1 }, 'one batch read');
});

t.test('a merge with webhooks off and a private-app token leaves Talkdesk with one contact', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [TOKEN], contacts: 120 }] });
  // Merged before the first sync: the loser is never mirrored, and its tombstone writes nothing.
  const [early, earlyInto] = sim.control.liveContacts().slice(0, 2).map((c) => c.id);
  sim.control.mergeContacts(early!, earlyInto!);

  const h = await buildIngestStack(t, sim, { SYNC_PAGE_SIZE: '50' });
  const talkdesk = new TalkdeskCopy(h.sync, { access_token: TOKEN });
  const equal = async () => {
    await talkdesk.sync();
    return talkdesk.checkpoint !== undefined && diffCount(diff(talkdesk.contacts, crmTruth(sim.control, PORTAL))) === 0;
  };
  await eventually('backfill reaches Talkdesk', equal);
  const rows = await h.database.db.execute<{ n: string }>(sql`SELECT count(*) AS n FROM contacts WHERE id = ${early!}`);
  t.equal(rows.rows[0]!.n, '0', 'an id merged before the backfill never gets a row');
  t.ok(talkdesk.contacts.has(earlyInto!), 'its survivor is mirrored');

  const ids = sim.control.liveContacts().map((c) => c.id);
  const [a, b, c, d] = [ids[10]!, ids[20]!, ids[30]!, ids[40]!];
  t.ok(talkdesk.contacts.has(a) && talkdesk.contacts.has(b), 'both contacts reached Talkdesk before the merge');
  const runsBefore = talkdesk.fullRuns;
  sim.control.mergeContacts(a, b);
  // A chain: c into d, then d into the earlier survivor.
  sim.control.mergeContacts(c, d);
  sim.control.mergeContacts(d, earlyInto!);
  await sim.control.searchSettled();

  await eventually('Talkdesk equals the CRM again', equal, 30_000);
  for (const gone of [a, c, d]) t.notOk(talkdesk.contacts.has(gone), `merged-away ${gone} left Talkdesk's copy`);
  t.ok(talkdesk.contacts.has(b) && talkdesk.contacts.has(earlyInto!), 'the survivors stay');
  t.ok(talkdesk.fullRuns > runsBefore, 'through a full run (the deletion rule)');
  const tomb = await h.database.db.execute<{ id: string }>(
    sql`SELECT id FROM contacts WHERE id IN (${a}, ${c}, ${d}) AND deleted_at IS NOT NULL ORDER BY id`,
  );
  t.same(tomb.rows.map((r) => r.id).sort(), [a, c, d].sort(), 'the mirror holds them as tombstones');
  t.same(sim.control.archivedContacts(), [], 'no archival was involved: HubSpot lists merges nowhere');
});

async function urlOf(client: Client): Promise<string> {
  return (client.config.basePath ?? '').replace(/\/$/, '');
}

t.test('a survivor archived right after its merge: the deletion scan tombstones what it absorbed too', async (t) => {
  // Neither id is searchable any more (the loser is gone, the survivor archived): only the
  // archived list, through the survivor's hs_merged_object_ids, says the loser is gone.
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: [TOKEN], contacts: 40 }] });
  const h = await buildIngestStack(t, sim, { DELETE_RECONCILE_SECONDS: '1' });
  const talkdesk = new TalkdeskCopy(h.sync, { access_token: TOKEN });
  const equal = async () => {
    await talkdesk.sync();
    return talkdesk.checkpoint !== undefined && diffCount(diff(talkdesk.contacts, crmTruth(sim.control, PORTAL))) === 0;
  };
  await eventually('backfill reaches Talkdesk', equal);
  const [loser, survivor] = sim.control.liveContacts().slice(5, 7).map((c) => c.id);
  sim.control.mergeContacts(loser!, survivor!);
  sim.control.archiveContacts([survivor!]);

  await eventually('Talkdesk equals the CRM again', equal, 30_000);
  t.notOk(talkdesk.contacts.has(loser!), 'the absorbed contact left Talkdesk');
  t.notOk(talkdesk.contacts.has(survivor!), 'and so did the archived survivor');
});
