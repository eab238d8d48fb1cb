import t, { type Test } from 'tap';
import { sql } from 'drizzle-orm';
import type { CountryCode } from 'libphonenumber-js/max';
import { buildPipedriveSim, type PipedriveSim } from '../harness/pipedrive-sim/server.js';
import { crmTruth, diff, diffCount, TalkdeskCopy } from '../harness/talkdesk/copy.js';
import { mapHubSpotContact } from '../src/crm/hubspot/mapping.js';
import { mapPipedrivePerson, type PipedrivePerson } from '../src/crm/pipedrive/mapping.js';
import type { Contact } from '../src/mirror/contact.js';
import { writeContacts } from '../src/mirror/writer.js';
import { finishSweep, recordSweepPage, startSweep, SweepAbandonedError } from '../src/tenants/deletion-sweep.js';
import { ensureIngestState } from '../src/tenants/ingest-state.js';
import { requestResync } from '../src/tenants/resync.js';
import { buildTestApp } from './helpers/app.js';
import { buildIngestStack, eventually, startSim, type IngestStack } from './helpers/ingest.js';

// Issues 14 and 15: deletions no list of the CRM reports (Pipedrive's deleted and merged-away
// persons, HubSpot's privacy deletions) are found by a sweep of the live ids on each reconcile,
// which tombstones only after a listing that reached its end, and never a row written since it began.

const COMPANY = 7301;
const PD_TOKEN = 'pd-sweep-token';
const PORTAL = 7302;

async function startPipedrive(t: Test, persons: number): Promise<PipedriveSim & { url: string }> {
  const sim = await buildPipedriveSim({ companies: [{ companyId: COMPANY, name: 'Sweep Co', domain: 'sweep', tokens: [PD_TOKEN], persons, windowLimit: 120 }] });
  await sim.app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => sim.app.close());
  return { ...sim, url: `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}` };
}

function pipedriveTruth(sim: PipedriveSim): Map<string, Contact> {
  const orgs = new Map(sim.control.orgs().map((o) => [o.id, o.name]));
  return new Map(
    sim.control.persons().map((p) => [
      String(p.id),
      mapPipedrivePerson(p as PipedrivePerson, { companyDomain: 'sweep', orgName: p.org_id === null ? undefined : orgs.get(p.org_id), defaultRegion: 'US' as CountryCode }),
    ]),
  );
}

async function row(h: IngestStack, id: string) {
  const { rows } = await h.database.db.execute<{ name: string; emails: string[] | null; phones: string[] | null; company: string | null; doc: string; deleted: boolean }>(
    sql`SELECT name, emails, phones, company, doc, deleted_at IS NOT NULL AS deleted FROM contacts WHERE id = ${id}`,
  );
  return rows[0];
}

async function ingestState(h: IngestStack) {
  const { rows } = await h.database.db.execute<{ sweep: { listing?: unknown; listed?: boolean } | null; reconciled: boolean; error: string | null }>(
    sql`SELECT source_cursor -> 'sweep' AS sweep, last_reconcile_at IS NOT NULL AS reconciled, last_error AS error FROM ingest_state`,
  );
  return rows[0];
}

t.test('a Pipedrive person deleted, and one merged away, leave Talkdesk through the sweep and the deletion rule', async (t) => {
  const sim = await startPipedrive(t, 1_200); // three pages of 500: the sweep spans pages
  const h = await buildIngestStack(t, { url: 'http://127.0.0.1:9', control: undefined as never }, {
    CRM: 'pipedrive',
    PIPEDRIVE_BASE_URL: sim.url,
    PIPEDRIVE_OVERLAP_SECONDS: '0',
    SYNC_PAGE_SIZE: '500',
    DELETE_RECONCILE_SECONDS: '1',
  });
  const talkdesk = new TalkdeskCopy(h.sync, { api_token: PD_TOKEN });
  await eventually('the backfill reaches Talkdesk', async () => {
    await talkdesk.sync();
    return talkdesk.checkpoint !== undefined && diffCount(diff(talkdesk.contacts, pipedriveTruth(sim))) === 0;
  });

  const persons = sim.control.persons();
  const deleted = persons[10]!;
  const loser = persons[600]!;
  const survivor = persons[20]!;
  sim.control.deletePerson(deleted.id);
  sim.control.mergePersons(loser.id, survivor.id);
  await eventually('Talkdesk equals Pipedrive', async () => {
    await talkdesk.sync();
    return diffCount(diff(talkdesk.contacts, pipedriveTruth(sim))) === 0;
  });
  t.notOk(talkdesk.contacts.has(String(deleted.id)), 'the deleted person left the copy');
  t.notOk(talkdesk.contacts.has(String(loser.id)), 'and so did the merged-away one');
  t.ok(talkdesk.contacts.has(String(survivor.id)), 'the survivor stays');
  t.ok(talkdesk.fullRuns >= 2, 'through a full run, as the deletion rule asks');
  for (const id of [deleted.id, loser.id]) t.match(await row(h, String(id)), { deleted: true, name: '', emails: null, phones: null });

  const sweeps = sim.control.requests.filter((r) => r.endpoint === 'persons.list' && /sort_by=id/.test(r.query) && !/org_id/.test(r.query));
  t.ok(sweeps.length > 0, 'the sweep lists persons by id');
  t.notMatch(sweeps.map((r) => r.query).join('&'), /include_fields|custom_fields/, 'asking for no optional fields');
  t.equal(sim.control.stats().byStatus['429'] ?? 0, 0, 'within the rate limit');
});

t.test('a HubSpot privacy deletion leaves Talkdesk, and no name, phone or email of it stays in the mirror', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: ['pat-sweep'], contacts: 250 }] });
  const h = await buildIngestStack(t, sim, { SYNC_PAGE_SIZE: '100', DELETE_RECONCILE_SECONDS: '1' });
  const talkdesk = new TalkdeskCopy(h.sync, { access_token: 'pat-sweep' });
  await eventually('backfill', async () => {
    await talkdesk.sync();
    return talkdesk.checkpoint !== undefined && diffCount(diff(talkdesk.contacts, crmTruth(sim.control, PORTAL))) === 0;
  });
  const [gdpr] = sim.control.createContacts([{ firstname: 'Forget', lastname: 'Me', email: 'forget.me@example.com', phone: '(415) 555-0177', company: 'Private Co' }]);
  await eventually('the new contact reaches Talkdesk', async () => {
    await talkdesk.sync();
    return talkdesk.contacts.has(gdpr!.id);
  });

  sim.control.privacyDeleteContacts([gdpr!.id]);
  await eventually('Talkdesk equals HubSpot', async () => {
    await talkdesk.sync();
    return diffCount(diff(talkdesk.contacts, crmTruth(sim.control, PORTAL))) === 0;
  });
  t.notOk(talkdesk.contacts.has(gdpr!.id), 'the contact left the copy');
  const tombstone = await row(h, gdpr!.id);
  t.match(tombstone, { deleted: true, name: '', emails: null, phones: null, company: null }, 'the row keeps its id and key only');
  t.notMatch(JSON.stringify(tombstone), /Forget|forget\.me|555|Private/, 'nothing of the contact is left in it');
});

t.test('a sweep cut short tombstones nothing, and a contact written since it began survives it', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: ['pat-cut'], contacts: 350 }] });
  const h = await buildIngestStack(t, sim, { SYNC_PAGE_SIZE: '100', DELETE_RECONCILE_SECONDS: '3600' });
  const auth = { access_token: 'pat-cut' };
  const talkdesk = new TalkdeskCopy(h.sync, auth);
  await eventually('backfill, and the first reconcile after it', async () => {
    await talkdesk.sync();
    const state = await ingestState(h);
    return talkdesk.checkpoint !== undefined && state?.reconciled === true && state.sweep === null;
  });

  const live = sim.control.liveContacts({ portalId: PORTAL });
  const gone = live[250]!.id; // on the sweep's third page
  const restored = live[5]!.id; // on its first
  sim.control.privacyDeleteContacts([gone]);
  sim.control.archiveContacts([restored]);
  // The reconcile lists the archived contacts (one call), then the live ids: its second page fails, every time.
  sim.control.failNext({ endpoint: 'contacts.list', status: 503, skip: 2, count: 1_000 });
  await h.database.db.execute(sql`UPDATE ingest_state SET last_reconcile_at = now() - interval '2 hours', last_error = NULL`);

  await eventually('the sweep is cut short', async () => {
    const state = await ingestState(h);
    return state?.sweep?.listing !== undefined && state.error !== null;
  });
  t.match(await row(h, gone), { deleted: false, name: /\S/ }, 'the contact the listing did not reach yet is not tombstoned');
  t.match(await row(h, restored), { deleted: true }, "the archived one is, by the archived list's scan");
  t.notOk((await ingestState(h))?.sweep?.listed, 'the listing has not reached its end');

  // Restored in HubSpot while the sweep waits, behind the listing's cursor, and written to the
  // mirror (as a webhook's re-read writes it): the sweep never saw it, but it is newer than the sweep.
  const [back] = sim.control.restoreContacts([restored]);
  await writeContacts(h.database.db, (await tenantId(h))!, [mapHubSpotContact(back!, { portalId: PORTAL, defaultRegion: 'US' })], 'webhook');

  sim.control.resetFaults();
  await eventually('the sweep completes', async () => (await ingestState(h))?.sweep === null && (await row(h, gone))?.deleted === true);
  t.match(await row(h, restored), { deleted: false }, 'the contact written since the sweep began survives it');
  await eventually('Talkdesk equals HubSpot', async () => {
    await talkdesk.sync();
    return diffCount(diff(talkdesk.contacts, crmTruth(sim.control, PORTAL))) === 0;
  });
  t.ok(talkdesk.contacts.has(restored));
  t.notOk(talkdesk.contacts.has(gone));
});

t.test('a sweep whose state a requested resync dropped records and tombstones nothing more', async (t) => {
  const h = await buildTestApp(t);
  const tenant = await h.createTenant({ token: 'sweep-dropped' });
  await h.push(tenant, ['a', 'b', 'c'].map((id) => ({ id, name: id.toUpperCase() })));
  await ensureIngestState(h.database.db, tenant);
  const sweep = await startSweep(h.database.db, tenant);
  await h.database.db.transaction((tx) => recordSweepPage(tx, tenant, ['a', 'b'], { ...sweep, listing: { after: 'b' } }));
  // An operator asks for a resync while the sweep runs: its seen ids are emptied.
  await requestResync(h.database.db, tenant);
  await t.rejects(h.database.db.transaction((tx) => recordSweepPage(tx, tenant, ['c'], { ...sweep, listed: true })), SweepAbandonedError);
  await t.rejects(finishSweep(h.database.db, tenant, sweep), SweepAbandonedError, 'its tombstones are rolled back');
  const { rows } = await h.database.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM contacts WHERE deleted_at IS NOT NULL`);
  t.equal(rows[0]!.n, 0, 'nothing was tombstoned');
});

async function tenantId(h: IngestStack): Promise<string | undefined> {
  const { rows } = await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`);
  return rows[0]?.id;
}
