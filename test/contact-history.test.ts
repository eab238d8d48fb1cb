import t, { type Test } from 'tap';
import { sql } from 'drizzle-orm';
import { writeContacts } from '../src/mirror/writer.js';
import { pruneOldHistory, VERSIONS_KEPT } from '../src/mirror/history.js';
import { addCredential } from '../src/tenants/credentials.js';
import { getTenant } from '../src/tenants/repository.js';
import { adminHeaders, buildTestApp, type TestApp } from './helpers/app.js';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';
import { syncRun } from './helpers/talkdesk.js';

const PRODUCTION = { api_key: 'history-production' };
const SANDBOX = { api_key: 'history-sandbox' };

/** A push tenant synced by two Talkdesk copies: two credentials of one tenant. */
async function twoCopies(t: Test, env: Record<string, string> = {}) {
  const h = await buildTestApp(t, env);
  const tenant = await h.createTenant(PRODUCTION, 'Two copies');
  await addCredential(h.database.db, h.app.tenants.keys, (await getTenant(h.database.db, tenant))!, { auth: SANDBOX, verified: false });
  const ids = (await h.database.db.execute<{ id: string; label: string }>(sql`
    SELECT id, label FROM credentials WHERE tenant_id = ${tenant} ORDER BY created_at, id`)).rows;
  return { h, tenant, production: ids[0]!.id, sandbox: ids[1]!.id };
}

async function detail(h: TestApp, tenant: string, contactId: string) {
  const res = await h.app.inject({ method: 'GET', url: `/admin/tenants/${tenant}/contacts/${encodeURIComponent(contactId)}`, headers: adminHeaders });
  return { statusCode: res.statusCode, body: res.json() };
}

async function deliveries(h: TestApp, tenant: string, contactId: string): Promise<Record<string, string>> {
  const { body } = await detail(h, tenant, contactId);
  return Object.fromEntries((body.copies as Array<{ credential: string; delivery: string }>).map((c) => [c.credential, c.delivery]));
}

t.test('each Talkdesk copy: confirmed, handed out, not yet sent, gone and pending deletion', async (t) => {
  const { h, tenant, production, sandbox } = await twoCopies(t, { SYNC_PAGE_SIZE: '2' });
  await h.push(tenant, [
    { id: 'a', name: 'Ada', phones: ['+14155550101'] },
    { id: 'b', name: 'Bob' },
    { id: 'c', name: 'Cy' },
  ]);
  t.same(await deliveries(h, tenant, 'a'), { [production]: 'not_sent', [sandbox]: 'not_sent' }, 'no copy has synced');

  // Production: a full run over two pages. Handed out, but Talkdesk has not sent its checkpoint back.
  const full = await syncRun(h.sync, PRODUCTION);
  t.equal(full.pages, 2);
  t.same(await deliveries(h, tenant, 'c'), { [production]: 'handed_out', [sandbox]: 'not_sent' }, 'served to production only');

  // Production's next run brings the checkpoint back: everything up to it is proven.
  const quiet = await syncRun(h.sync, PRODUCTION, full.checkpoint);
  t.same(await deliveries(h, tenant, 'c'), { [production]: 'confirmed', [sandbox]: 'not_sent' });

  // Sandbox syncs only the first page of a full run, then stops.
  const firstPage = await h.sync({ auth: SANDBOX, meta: {} });
  t.same(firstPage.body.contacts.map((c: { id: string }) => c.id), ['a', 'b']);
  t.same(await deliveries(h, tenant, 'a'), { [production]: 'confirmed', [sandbox]: 'handed_out' }, 'a page with it was served');
  t.same(await deliveries(h, tenant, 'c'), { [production]: 'confirmed', [sandbox]: 'not_sent' }, 'the page after it never was');

  // An edit is a new version: not yet sent to either copy.
  await h.push(tenant, [{ id: 'a', name: 'Ada', phones: ['+14155550199'] }]);
  t.same(await deliveries(h, tenant, 'a'), { [production]: 'not_sent', [sandbox]: 'not_sent' }, 'the new version is sent to nobody yet');
  const withEdit = await syncRun(h.sync, PRODUCTION, quiet.checkpoint);
  t.same(withEdit.contacts.map((c) => c.id), ['a']);
  t.same(await deliveries(h, tenant, 'a'), { [production]: 'handed_out', [sandbox]: 'not_sent' });
  const afterEdit = await syncRun(h.sync, PRODUCTION, withEdit.checkpoint);
  t.same(await deliveries(h, tenant, 'a'), { [production]: 'confirmed', [sandbox]: 'not_sent' });

  // A deletion is pending for every copy until a full run that began after it comes back.
  const del = await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${tenant}/contacts/b`, headers: adminHeaders });
  t.equal(del.statusCode, 204);
  t.same(await deliveries(h, tenant, 'b'), { [production]: 'pending_deletion', [sandbox]: 'pending_deletion' });
  // The incremental run finds the tombstone and withholds its checkpoint: the next run is full.
  const withheld = await syncRun(h.sync, PRODUCTION, afterEdit.checkpoint);
  t.equal(withheld.checkpoint, undefined, 'the checkpoint is withheld so that the next run is a full one');
  const fullAgain = await syncRun(h.sync, PRODUCTION);
  t.ok(fullAgain.checkpoint, 'the full run ends with a checkpoint');
  t.same(await deliveries(h, tenant, 'b'), { [production]: 'pending_deletion', [sandbox]: 'pending_deletion' }, 'served is not proven');
  await syncRun(h.sync, PRODUCTION, fullAgain.checkpoint);
  t.same(await deliveries(h, tenant, 'b'), { [production]: 'gone', [sandbox]: 'pending_deletion' }, "the full run's checkpoint came back from production only");

  // Sandbox's own full run, confirmed, removes it there too; a later incremental checkpoint still proves it.
  const sandboxFull = await syncRun(h.sync, SANDBOX);
  const sandboxNext = await syncRun(h.sync, SANDBOX, sandboxFull.checkpoint);
  await syncRun(h.sync, SANDBOX, sandboxNext.checkpoint);
  t.same(await deliveries(h, tenant, 'b'), { [production]: 'gone', [sandbox]: 'gone' });
  t.same(await deliveries(h, tenant, 'c'), { [production]: 'confirmed', [sandbox]: 'confirmed' });

  const { body } = await detail(h, tenant, 'b');
  t.equal(body.deleted, true);
  for (const copy of body.copies) t.match(copy.last_sync_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'each copy says when it last synced');
});

t.test('the detail shows the contact as Talkdesk receives it, its key, its CRM link and its history', async (t) => {
  const { h, tenant } = await twoCopies(t);
  await h.push(tenant, [{ id: 'x/1 é', name: 'Xavier', emails: ['x@example.com'], url: 'https://crm.example.com/x1' }]);
  await h.push(tenant, [{ id: 'x/1 é', name: 'Xavier', emails: ['x@example.com'], phones: ['+14155550123'], title: 'CTO', url: 'https://crm.example.com/x1' }]);
  await h.push(tenant, [{ id: 'x/1 é', name: 'Xavier', emails: ['x@example.com'], phones: ['+14155550123'], title: 'CTO', url: 'https://crm.example.com/x1' }]);

  const { statusCode, body } = await detail(h, tenant, 'x/1 é');
  t.equal(statusCode, 200);
  const page = await h.sync({ auth: PRODUCTION, meta: {} });
  t.same(body.contact, page.body.contacts[0], 'the contact is the document the sync endpoint sends');
  t.equal(body.id, 'x/1 é');
  t.equal(body.deleted, false);
  t.equal(body.crm_url, 'https://crm.example.com/x1');
  t.equal(body.key.id, 'x/1 é');
  t.match(body.key.updated_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  t.same(
    body.history.map((e: { source: string; fields: string[]; deleted: boolean }) => [e.source, e.fields, e.deleted]),
    [
      ['admin_push', ['title', 'phones'], false],
      ['admin_push', ['name', 'emails', 'url'], false],
    ],
    'newest first; an unchanged push is no version',
  );
  t.equal(body.history[0].at, body.key.updated_at, "the newest version's time is the contact's key");

  t.equal((await detail(h, tenant, 'nobody')).statusCode, 404, 'an unknown contact');
  t.equal((await detail(h, tenant, 'nobody')).body.error, 'CONTACT_NOT_FOUND');
  const unknownTenant = await detail(h, '00000000-0000-4000-8000-000000000000', 'x/1 é');
  t.equal(unknownTenant.statusCode, 404, 'an unknown tenant');
  t.equal(unknownTenant.body.error, 'TENANT_NOT_FOUND');
});

t.test('history names each source and the changed fields, and keeps at most 20 versions of a contact', async (t) => {
  const h = await buildTestApp(t);
  const db = h.database.db;
  const tenant = await h.createTenant({ api_key: 'bounds' });
  await writeContacts(db, tenant, [{ id: 'k', name: 'Kim' }, { id: 'other', name: 'Other' }], 'backfill');
  await writeContacts(db, tenant, [{ id: 'k', name: 'Kim', company: 'Acme' }], 'poll');
  await writeContacts(db, tenant, [{ id: 'k', deleted: true }], 'sweep');
  await writeContacts(db, tenant, [{ id: 'k', name: 'Kim', company: 'Acme' }], 'resync');
  const { body } = await detail(h, tenant, 'k');
  t.same(
    body.history.map((e: { source: string; fields: string[]; deleted: boolean }) => [e.source, e.fields, e.deleted]),
    [
      ['resync', ['name', 'company'], false],
      ['sweep', [], true],
      ['poll', ['company'], false],
      ['backfill', ['name'], false],
    ],
    'a revived contact changed every field it has; a deletion is marked',
  );

  for (let v = 1; v <= 21; v++) await writeContacts(db, tenant, [{ id: 'k', name: `Kim v${v}` }], 'webhook');
  const versions = async (id: string) =>
    (await db.execute<{ at: string }>(sql`SELECT at::text FROM contact_history WHERE tenant_id = ${tenant} AND contact_id = ${id} ORDER BY at DESC`)).rows;
  const kept = await versions('k');
  t.equal(kept.length, VERSIONS_KEPT, '25 versions written, the last 20 kept');
  const [latest] = (await db.execute<{ at: string }>(sql`SELECT updated_at::text AS at FROM contacts WHERE tenant_id = ${tenant} AND id = 'k'`)).rows;
  t.equal(kept[0]!.at, latest!.at, 'the newest is the current version');
  const shown = (await detail(h, tenant, 'k')).body.history;
  t.equal(shown.length, VERSIONS_KEPT);
  t.ok(shown.every((e: { source: string }) => e.source === 'webhook'), 'the oldest five went');
  t.equal((await versions('other')).length, 1, "another contact's history is untouched");

  // Versions older than CONTACT_HISTORY_DAYS go with the periodic prune; recent ones stay.
  await db.execute(sql`UPDATE contact_history SET at = at - interval '31 days' WHERE tenant_id = ${tenant} AND contact_id = 'other'`);
  await db.execute(sql`
    UPDATE contact_history SET at = at - interval '29 days'
    WHERE tenant_id = ${tenant} AND contact_id = 'k' AND at = (SELECT min(at) FROM contact_history WHERE tenant_id = ${tenant} AND contact_id = 'k')`);
  t.equal(await pruneOldHistory(db, h.config.CONTACT_HISTORY_DAYS), 1, 'one version older than 30 days');
  t.equal((await versions('other')).length, 0);
  t.equal((await versions('k')).length, VERSIONS_KEPT, 'a version 29 days old stays');
});

t.test('an erase tombstones the contact and leaves no trace of its data or history', async (t) => {
  const { h, tenant, production } = await twoCopies(t);
  const person = { id: 'p1', name: 'Privacy Person', emails: ['privacy.person@example.com'], phones: ['+14155550777'], company: 'Secretive Ltd' };
  await h.push(tenant, [person, { id: 'p2', name: 'Stays' }]);
  await h.push(tenant, [{ ...person, title: 'Whistleblower' }]);
  const full = await syncRun(h.sync, PRODUCTION);
  t.equal(full.contacts.length, 2);

  const erase = (id: string) =>
    h.app.inject({ method: 'DELETE', url: `/admin/tenants/${tenant}/contacts/${id}?erase=true`, headers: adminHeaders });
  t.equal((await erase('p1')).statusCode, 204);

  const traces = ['Privacy Person', 'privacy.person', '4155550777', 'Secretive', 'Whistleblower'];
  const row = (await h.database.db.execute<{ row: string }>(sql`SELECT to_jsonb(c)::text AS row FROM contacts c WHERE tenant_id = ${tenant} AND id = 'p1'`)).rows[0]!.row;
  for (const trace of traces) t.notOk(row.includes(trace), `the contacts row holds no ${trace}`);
  t.match(JSON.parse(row), { deleted_at: String, name: '', phones: null, emails: null, company: null, title: null });
  const history = await h.database.db.execute(sql`SELECT * FROM contact_history WHERE tenant_id = ${tenant} AND contact_id = 'p1'`);
  t.equal(history.rows.length, 0, 'no history row');
  t.equal((await h.database.db.execute(sql`SELECT * FROM contact_history WHERE contact_id = 'p2'`)).rows.length, 1, "others' history stays");

  const { statusCode, body } = await detail(h, tenant, 'p1');
  t.equal(statusCode, 200);
  t.same(body.contact, { id: 'p1' });
  t.same(body.history, []);
  t.equal(body.deleted, true);
  t.equal(body.crm_url, undefined);
  for (const trace of traces) t.notOk(JSON.stringify(body).includes(trace), `the detail shows no ${trace}`);
  t.equal(body.copies.find((c: { credential: string }) => c.credential === production).delivery, 'pending_deletion', 'Talkdesk still has to drop it');

  const next = await syncRun(h.sync, PRODUCTION, full.checkpoint);
  t.equal(next.checkpoint, undefined, 'the erasure is a deletion: the checkpoint is withheld so the next run is full');
  t.same((await syncRun(h.sync, PRODUCTION)).contacts.map((c) => c.id), ['p2'], 'the full run no longer has it');

  // A contact already deleted can be erased too (a plain delete of it is a 404), an unknown id cannot.
  await h.push(tenant, [{ id: 'p4', name: 'Plain', phones: ['+14155550999'] }]);
  await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${tenant}/contacts/p4`, headers: adminHeaders });
  const before = (await detail(h, tenant, 'p4')).body;
  t.equal(before.history.length, 2, 'a plain delete is a version');
  t.equal(before.contact.name, 'Plain', 'and keeps the last version');
  t.equal((await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${tenant}/contacts/p4`, headers: adminHeaders })).statusCode, 404);
  t.equal((await erase('p4')).statusCode, 204, 'erasing a tombstone');
  const erased = (await detail(h, tenant, 'p4')).body;
  t.same([erased.contact, erased.history, erased.key.updated_at], [{ id: 'p4' }, [], before.key.updated_at], 'its data went; its key did not move');
  t.equal((await erase('never-there')).statusCode, 404);
  t.equal((await erase('never-there')).json().error, 'CONTACT_NOT_FOUND');
});

t.test('ingested versions name their source: backfill, poll, sweep; the CRM link is the record', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: 7401, tokens: ['pat-history'], contacts: 3 }] });
  const h = await buildIngestStack(t, sim, { DELETE_RECONCILE_SECONDS: '1' });
  const auth = { access_token: 'pat-history' };
  t.equal((await h.sync({ auth, meta: {} })).statusCode, 200, 'the portal onboards');
  await eventually('the backfill completes', async () => (await syncRun(h.sync, auth)).checkpoint !== undefined);
  const [tenant] = (await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`)).rows;
  const [edited, archived] = sim.control.liveContacts({ portalId: 7401 });
  const sourcesOf = async (id: string) =>
    ((await detail(h, tenant!.id, id)).body.history as Array<{ source: string; fields: string[] }>).map((e) => `${e.source}:${e.fields.join('+')}`);

  t.match((await sourcesOf(edited!.id))[0], /^backfill:name/, 'the first version came from the backfill');
  sim.control.editContact(edited!.id, { jobtitle: 'Chief Listener' }, { portalId: 7401 });
  await eventually('the edit is polled', async () => (await sourcesOf(edited!.id))[0] === 'poll:title');
  sim.control.archiveContacts([archived!.id], { portalId: 7401 });
  await eventually('the deletion is swept', async () => (await sourcesOf(archived!.id))[0] === 'sweep:');

  const { body } = await detail(h, tenant!.id, edited!.id);
  t.match(body.crm_url, /^https:\/\/app\.hubspot\.com\/contacts\/7401\/record\/0-1\//, 'a link to the record in HubSpot');
  t.equal(body.contact.title, 'Chief Listener');
});
