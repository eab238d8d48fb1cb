import t, { type Test } from 'tap';
import { sql } from 'drizzle-orm';
import { indexContactKeys } from '../src/mirror/key-indexer.js';
import { contactSearchKeys } from '../src/lookup/search-keys.js';
import { addCredential } from '../src/tenants/credentials.js';
import { getTenant } from '../src/tenants/repository.js';
import { adminHeaders, buildTestApp, type TestApp } from './helpers/app.js';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';
import { syncRun } from './helpers/talkdesk.js';

const PRODUCTION = { api_key: 'lookup-production' };
const SANDBOX = { api_key: 'lookup-sandbox' };

interface Found {
  id: string;
  deleted: boolean;
  contact: { name?: string; phones?: string[] };
  phones: Array<{ stored: string; normalized?: string; parses: boolean }>;
  copies: Array<{ credential: string; delivery: string }>;
  verdicts: string[];
}

async function twoCopies(t: Test, env: Record<string, string> = {}) {
  const h = await buildTestApp(t, env);
  const tenant = await h.createTenant(PRODUCTION, 'Two copies');
  await addCredential(h.database.db, h.app.tenants.keys, (await getTenant(h.database.db, tenant))!, { auth: SANDBOX, verified: false });
  const ids = (await h.database.db.execute<{ id: string }>(sql`SELECT id FROM credentials WHERE tenant_id = ${tenant} ORDER BY created_at, id`)).rows;
  return { h, tenant, production: ids[0]!.id, sandbox: ids[1]!.id };
}

async function find(h: TestApp, tenant: string, query: Record<string, string>, headers: Record<string, string> = adminHeaders) {
  const res = await h.app.inject({ method: 'GET', url: `/admin/tenants/${tenant}/contacts`, query, headers });
  return { statusCode: res.statusCode, body: res.json() as { contacts: Found[]; next_offset?: number; partial?: boolean; error?: string } };
}

const ids = async (h: TestApp, tenant: string, query: Record<string, string>) => (await find(h, tenant, query)).body.contacts.map((c) => c.id);

const index = (h: TestApp) => indexContactKeys(h.database.db, (c) => contactSearchKeys(c, 'US'));

t.test('a phone in any format a person pastes, an email in any case, a name without its accents', async (t) => {
  const { h, tenant } = await twoCopies(t);
  await h.push(tenant, [
    { id: 'ny', name: 'José García', phones: ['(212) 555-0142'], emails: ['Jose.Garcia@Example.com'] },
    { id: 'ny2', name: 'Jo Other', phones: ['+12125550142'] },
    { id: 'uk', name: 'Björk Guðmundsdóttir', phones: ['+44 20 7946 0958'] },
    { id: 'short', name: 'Short Number', phones: ['555-0142'] },
    { id: 'none', name: 'Nobody', phones: ['+14155550100'] },
  ]);

  for (const indexed of [false, true]) {
    if (indexed) t.equal(await index(h), 5, 'the indexer read the five contacts');
    const when = indexed ? 'from the index' : 'before the indexer ran';
    for (const phone of ['(212) 555-0142', '+1 212-555-0142', '212.555.0142', '+12125550142', '001 212 555 0142']) {
      // 'short' too: stored without its area code, it is the contact this caller may have meant.
      t.same(await ids(h, tenant, { phone }), ['ny', 'ny2', 'short'], `${phone}, ${when}`);
    }
    for (const phone of ['0044 20 7946 0958', '+44 (0)20 7946 0958', '+442079460958']) {
      t.same(await ids(h, tenant, { phone }), ['uk'], `${phone}, ${when}`);
    }
    t.same(await ids(h, tenant, { phone: '555 0142' }), ['short'], `a number that does not parse matches by its digits, ${when}`);
    t.same(await ids(h, tenant, { phone: '020 7946 0958' }), [], `a national UK number read in the US region is another number, ${when}`);
    t.same(await ids(h, tenant, { email: 'JOSE.garcia@example.COM' }), ['ny'], `email in any case, ${when}`);
    t.same(await ids(h, tenant, { email: 'jose.garcia@example.co' }), [], `an email is matched whole, ${when}`);
    t.same(await ids(h, tenant, { q: 'jose GAR' }), ['ny'], `name prefix without accents, ${when}`);
    t.same(await ids(h, tenant, { q: 'BJÖRK' }), ['uk'], `name prefix with accents, ${when}`);
    t.same(await ids(h, tenant, { q: 'jo' }), ['ny2', 'ny'], `names in order, ${when}`);
    t.same(await ids(h, tenant, { q: 'garcia' }), [], `a prefix of the name, not a word inside it, ${when}`);
  }

  const { body } = await find(h, tenant, { phone: '555-0142' });
  t.same(body.contacts[0]!.phones, [{ stored: '555-0142', parses: false }]);
  t.match(body.contacts[0]!.verdicts[0], "this number is stored as '555-0142' and does not parse as a phone in region US; Talkdesk may not match it");
  const ny = (await find(h, tenant, { email: 'jose.garcia@example.com' })).body.contacts[0]!;
  t.same(ny.phones, [{ stored: '(212) 555-0142', normalized: '+12125550142', parses: true }], 'as stored and as normalized');
  t.same(ny.contact, { id: 'ny', name: 'José García', phones: ['(212) 555-0142'], emails: ['Jose.Garcia@Example.com'] }, 'as Talkdesk receives it');

  // Paged: one at a time, by next_offset.
  const first = await find(h, tenant, { q: 'j', limit: '1' });
  t.same([first.body.contacts.map((c) => c.id), first.body.next_offset], [['ny2'], 1]);
  const second = await find(h, tenant, { q: 'j', limit: '1', offset: '1' });
  t.same([second.body.contacts.map((c) => c.id), second.body.next_offset], [['ny'], undefined], 'the last page has no next_offset');
});

t.test('a contact just written is found before the indexer runs, under its new keys only', async (t) => {
  const { h, tenant } = await twoCopies(t);
  await h.push(tenant, [{ id: 'm', name: 'Moving Person', phones: ['+14155550101'], emails: ['old@example.com'] }]);
  await index(h);
  await h.push(tenant, [{ id: 'm', name: 'Moved Person', phones: ['+14155550202'], emails: ['new@example.com'] }]);
  await h.push(tenant, [{ id: 'n', name: 'New Person', phones: ['+14155550303'] }]);
  const check = async (when: string) => {
    t.same(await ids(h, tenant, { phone: '415 555 0202' }), ['m'], `the new phone, ${when}`);
    t.same(await ids(h, tenant, { phone: '415 555 0101' }), [], `the old phone no longer, ${when}`);
    t.same(await ids(h, tenant, { email: 'old@example.com' }), [], `the old email no longer, ${when}`);
    t.same(await ids(h, tenant, { q: 'mov' }), ['m'], when);
    t.same(await ids(h, tenant, { phone: '(415) 555-0303' }), ['n'], `a new contact, ${when}`);
  };
  await check('before the indexer ran');
  t.equal(await index(h), 2);
  await check('after');
  t.equal(await index(h), 0, 'nothing left to index');
  const keys = await h.database.db.execute(sql`SELECT kind, key FROM contact_keys WHERE tenant_id = ${tenant} AND contact_id = 'm' ORDER BY kind, key`);
  t.same(keys.rows, [
    { kind: 'email', key: 'new@example.com' },
    { kind: 'name', key: 'moved person' },
    { kind: 'phone', key: '+14155550202' },
  ]);
});

t.test('every verdict, for two Talkdesk copies synced to different points', async (t) => {
  const { h, tenant, production, sandbox } = await twoCopies(t, { SYNC_PAGE_SIZE: '2' });
  await h.push(tenant, [
    { id: 'a', name: 'Ada', phones: ['+14155550101'] },
    { id: 'b', name: 'Bob', phones: ['+14155550102'] },
    { id: 'c', name: 'Cy', phones: ['+14155550103'] },
  ]);
  await index(h);
  const byPhone = async (phone: string) => (await find(h, tenant, { phone })).body.contacts[0]!;
  const delivery = (c: Found) => Object.fromEntries(c.copies.map((x) => [x.credential, x.delivery]));

  // Production completes a full run and brings its checkpoint back; sandbox gets only its first page.
  const full = await syncRun(h.sync, PRODUCTION);
  await syncRun(h.sync, PRODUCTION, full.checkpoint);
  await h.sync({ auth: SANDBOX, meta: {} });
  const a = await byPhone('415-555-0101');
  t.same(delivery(a), { [production]: 'confirmed', [sandbox]: 'handed_out' });
  t.match(a.verdicts, [/^pushed through the admin API, mirrored \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC by the admin API$/, /^Talkdesk copy '.+' confirmed this version by .+ UTC$/, /^Talkdesk copy '.+' was handed this version in a sync page but has not confirmed it/]);
  const c = await byPhone('415-555-0103');
  t.same(delivery(c), { [production]: 'confirmed', [sandbox]: 'not_sent' });
  t.match(c.verdicts[2], /^Talkdesk copy '.+' has not been sent this version yet \(its last sync .+ UTC\)$/);

  const del = await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${tenant}/contacts/b`, headers: adminHeaders });
  t.equal(del.statusCode, 204);
  const b = await byPhone('+1 415 555 0102');
  t.equal(b.deleted, true, 'a deleted contact is found, and says so');
  t.same(delivery(b), { [production]: 'pending_deletion', [sandbox]: 'pending_deletion' });
  t.match(b.verdicts[0], /^deleted through the admin API, mirrored .+ by the admin API$/);
  t.match(b.verdicts[1], /still has it until its next full sync \(pending since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC;/);

  const fullAgain = await syncRun(h.sync, PRODUCTION);
  await syncRun(h.sync, PRODUCTION, fullAgain.checkpoint);
  await index(h);
  const gone = await byPhone('+1 415 555 0102');
  t.same(delivery(gone), { [production]: 'gone', [sandbox]: 'pending_deletion' }, 'found from the index too, still flagged');
  t.match(gone.verdicts[1], /no longer has it: a full sync that began after the deletion was confirmed$/);
});

t.test('an erase leaves the person unsearchable, even a contact already deleted', async (t) => {
  const { h, tenant } = await twoCopies(t);
  await h.push(tenant, [
    { id: 'p1', name: 'Private Person', emails: ['private@example.com'], phones: ['+14155550777'] },
    { id: 'p2', name: 'Private Other', emails: ['other@example.com'] },
  ]);
  await h.push(tenant, [{ id: 'p2', deleted: true }]);
  await index(h);
  t.same(await ids(h, tenant, { email: 'other@example.com' }), ['p2'], 'a plain deletion is still found');
  for (const id of ['p1', 'p2']) {
    const res = await h.app.inject({ method: 'DELETE', url: `/admin/tenants/${tenant}/contacts/${id}?erase=true`, headers: adminHeaders });
    t.equal(res.statusCode, 204);
  }
  const traces = async () =>
    (await h.database.db.execute(sql`SELECT key FROM contact_keys WHERE tenant_id = ${tenant} AND contact_id IN ('p1', 'p2')`)).rows;
  t.same(await traces(), [], 'their keys went with the erase, before any indexer pass');
  const queries: Array<Record<string, string>> = [{ email: 'private@example.com' }, { email: 'other@example.com' }, { phone: '4155550777' }, { q: 'private' }];
  for (const query of queries) {
    t.same(await ids(h, tenant, query), [], JSON.stringify(query));
  }
  await index(h);
  t.same(await traces(), [], 'the indexer brings none back');
});

t.test('hostile lookups: no token, no query, nothing to search by, too long, too deep, another tenant', async (t) => {
  const { h, tenant } = await twoCopies(t);
  t.equal((await find(h, tenant, { phone: '1' }, {})).statusCode, 401, 'no admin token');
  const invalid: Array<Record<string, string>> = [{}, { phone: '1', email: 'a@b.c' }, { phone: '---' }, { phone: 'abc' }, { email: '@.' }, { q: '  !? ' }];
  for (const query of invalid) {
    const res = await find(h, tenant, query);
    t.same([res.statusCode, res.body.error], [400, 'INVALID_QUERY'], JSON.stringify(query));
  }
  const unbounded: Array<Record<string, string>> = [{ q: 'x'.repeat(257) }, { q: 'x', offset: '1001' }, { q: 'x', limit: '101' }, { q: 'x', limit: '0' }];
  for (const query of unbounded) {
    t.equal((await find(h, tenant, query)).statusCode, 400, `bounded: ${JSON.stringify(query).slice(0, 40)}`);
  }
  const unknown = await find(h, '00000000-0000-4000-8000-000000000000', { q: 'x' });
  t.same([unknown.statusCode, unknown.body.error], [404, 'TENANT_NOT_FOUND']);
  t.equal((await find(h, 'not-a-uuid', { q: 'x' })).statusCode, 400);

  // One tenant's lookup never reaches another's contacts, indexed or not.
  const other = await h.createTenant({ api_key: 'lookup-other' });
  await h.push(other, [{ id: 'secret', name: 'Xavier', phones: ['+14155550999'] }]);
  t.same(await ids(h, tenant, { q: 'xavier' }), []);
  await index(h);
  t.same(await ids(h, tenant, { phone: '4155550999' }), []);
  t.same(await ids(h, other, { phone: '4155550999' }), ['secret']);
});

t.test('an ingested number that does not parse, found by its digits with the words why', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: 7402, tokens: ['pat-lookup'], contacts: 2 }] });
  const h = await buildIngestStack(t, sim, {});
  const auth = { access_token: 'pat-lookup' };
  t.equal((await h.sync({ auth, meta: {} })).statusCode, 200, 'the portal onboards');
  await eventually('the backfill completes', async () => (await syncRun(h.sync, auth)).checkpoint !== undefined);
  const [tenant] = (await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`)).rows;
  const [person] = sim.control.liveContacts({ portalId: 7402 });
  sim.control.editContact(person!.id, { phone: '555-0142' }, { portalId: 7402 });
  let found: Found | undefined;
  await eventually('the edit is polled and found', async () => {
    found = (await find(h, tenant!.id, { phone: '(555) 0142' })).body.contacts[0];
    return found?.id === person!.id;
  });
  t.match(found!.verdicts, [
    "this number is stored as '555-0142' and does not parse as a phone in region US; Talkdesk may not match it",
    /^changed in HubSpot \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, mirrored .+ UTC by a poll$/,
  ]);
  await eventually('the worker loop indexes it', async () => {
    const { rows } = await h.database.db.execute(sql`SELECT 1 FROM contact_keys WHERE tenant_id = ${tenant!.id} AND kind = 'phone' AND key = '5550142'`);
    return rows.length === 1;
  });
});
