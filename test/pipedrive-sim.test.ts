import t, { type Test } from 'tap';
import { v1, v2 } from 'pipedrive';
import { buildPipedriveSim, type PipedriveSimOptions } from '../harness/pipedrive-sim/server.js';

async function startSim(t: Test, options: PipedriveSimOptions) {
  const sim = await buildPipedriveSim(options);
  await sim.app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => sim.app.close());
  const url = `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}`;
  return { ...sim, url };
}

/** The official client's APIs, their base paths set as the connector sets them (v1 under /v1, v2 under /api/v2). */
function clients(url: string, token: string) {
  const config1 = new v1.Configuration({ apiKey: token, basePath: `${url}/v1` });
  const config2 = new v2.Configuration({ apiKey: token, basePath: `${url}/api/v2` });
  return { users: new v1.UsersApi(config1), persons: new v2.PersonsApi(config2), orgs: new v2.OrganizationsApi(config2) };
}

t.test('users/me names the company and the user behind the token', async (t) => {
  const sim = await startSim(t, { companies: [{ companyId: 31, name: 'Umbrella', domain: 'umbrella', tokens: ['admin-token'], userTokens: ['user-token'] }] });
  const me = await clients(sim.url, 'admin-token').users.getCurrentUser();
  t.match(me, { success: true, data: { company_id: 31, company_name: 'Umbrella', company_domain: 'umbrella', is_admin: 1 } });
  const user = await clients(sim.url, 'user-token').users.getCurrentUser();
  t.match(user.data, { company_id: 31, is_admin: 0 });
  const refused = await clients(sim.url, 'nope').users.getCurrentUser().catch((e: unknown) => e);
  t.match(refused, { success: false, errorCode: 401, error: 'unauthorized access' }, 'the client rejects with Pipedrive’s body');
  t.notMatch(sim.control.requests.map((r) => r.query).join('&'), /token/, 'the official client sends the token in a header, never in the URL');
});

t.test('persons page with real cursors, up to 500 a page, and every person exactly once', async (t) => {
  const sim = await startSim(t, { companies: [{ companyId: 1, tokens: ['tok'], persons: 1_234 }] });
  const { persons } = clients(sim.url, 'tok');
  const seen: number[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await persons.getPersons({ limit: 500, sort_by: 'id', ...(cursor ? { cursor } : {}) });
    pages++;
    seen.push(...page.data!.map((p) => p.id!));
    cursor = page.additional_data?.next_cursor ?? undefined;
    // A person added while paging sorts after the cursor and is read; nothing already read shifts.
    if (pages === 1) sim.control.createPersons([{ name: 'Late Arrival' }]);
  } while (cursor);
  t.equal(pages, 3);
  t.same(seen, sim.control.persons().map((p) => p.id), 'every person once, in id order, the late one included');
  t.equal(new Set(seen).size, seen.length);

  const tooMany = await persons.getPersons({ limit: 501 }).catch((e: unknown) => e);
  t.match(tooMany, { success: false, errorCode: 400 }, 'limit is at most 500');
  const badCursor = await persons.getPersons({ cursor: 'garbage' }).catch((e: unknown) => e);
  t.match(badCursor, { success: false, errorCode: 400 });
});

t.test('updated_since is inclusive, update_time has one-second precision, and sort_by update_time pages in order', async (t) => {
  const sim = await startSim(t, { companies: [{ companyId: 1, tokens: ['tok'] }] });
  const base = Date.parse('2026-03-01T10:00:00Z');
  sim.control.createPersons([{ name: 'before' }], { at: base - 1_000 });
  sim.control.createPersons([{ name: 'a' }, { name: 'b' }, { name: 'c' }], { at: base + 250 });
  sim.control.createPersons([{ name: 'd' }], { at: base + 999 });
  sim.control.createPersons([{ name: 'e' }], { at: base + 1_000 });
  const { persons } = clients(sim.url, 'tok');
  const names: string[] = [];
  const times: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await persons.getPersons({ updated_since: '2026-03-01T10:00:00Z', sort_by: 'update_time', sort_direction: 'asc', limit: 2, ...(cursor ? { cursor } : {}) });
    names.push(...page.data!.map((p) => p.name!));
    times.push(...page.data!.map((p) => p.update_time!));
    cursor = page.additional_data?.next_cursor ?? undefined;
  } while (cursor);
  t.same(names, ['a', 'b', 'c', 'd', 'e'], 'the watermark second itself is included; ties by id, across page boundaries');
  t.same(times, ['2026-03-01T10:00:00Z', '2026-03-01T10:00:00Z', '2026-03-01T10:00:00Z', '2026-03-01T10:00:00Z', '2026-03-01T10:00:01Z']);
  const desc = await persons.getPersons({ sort_by: 'update_time', sort_direction: 'desc', limit: 1 });
  t.equal(desc.data![0]!.name, 'e');
});

t.test('organizations by ids (at most 100) and by updated_since; a rename moves update_time', async (t) => {
  const sim = await startSim(t, { companies: [{ companyId: 1, tokens: ['tok'] }] });
  const at = Date.parse('2026-03-01T10:00:00Z');
  const [a, b, c] = ['Acme', ' Globex ', 'Initech'].map((name) => sim.control.createOrg(name, { at }));
  const { orgs } = clients(sim.url, 'tok');
  const byIds = await orgs.getOrganizations({ ids: `${a!.id},${c!.id}` });
  t.same(byIds.data!.map((o) => o.name), ['Acme', 'Initech']);
  sim.control.renameOrg(b!.id, 'Globex Corporation', { at: at + 60_000 });
  const changed = await orgs.getOrganizations({ updated_since: '2026-03-01T10:01:00Z' });
  t.same(changed.data!.map((o) => [o.id, o.name]), [[b!.id, 'Globex Corporation']]);
  const tooMany = await orgs.getOrganizations({ ids: Array.from({ length: 101 }, (_, i) => i + 1).join(',') }).catch((e: unknown) => e);
  t.match(tooMany, { success: false, errorCode: 400 });
});

t.test('deletions and merges: the deleted and the merged-away leave the list; the survivor gains their values', async (t) => {
  const sim = await startSim(t, { companies: [{ companyId: 1, tokens: ['tok'] }] });
  const [keep, gone, del] = sim.control.createPersons([
    { name: 'Keep', emails: [{ value: 'k@x.example', primary: true, label: 'work' }] },
    { name: 'Gone', emails: [{ value: 'g@x.example', primary: true, label: 'work' }], phones: [{ value: '+14155550100', primary: true, label: 'work' }] },
    { name: 'Deleted' },
  ]);
  sim.control.deletePerson(del!.id);
  const merged = sim.control.mergePersons(gone!.id, keep!.id, { at: Date.now() + 5_000 });
  t.same(merged.emails.map((e) => [e.value, e.primary]), [['k@x.example', true], ['g@x.example', false]]);
  t.same(merged.phones.map((e) => e.value), ['+14155550100']);
  const page = await clients(sim.url, 'tok').persons.getPersons({});
  t.same(page.data!.map((p) => p.name), ['Keep']);
  t.ok(page.data![0]!.update_time! > keep!.update_time, 'a merge is an update of the survivor');
});

t.test("a non-admin user's token sees only persons visible to the entire company and their own", async (t) => {
  const sim = await startSim(t, { companies: [{ companyId: 1, tokens: ['admin'], userTokens: ['user'] }] });
  sim.control.createPersons([{ name: 'Everyone', visible_to: 3 }, { name: 'Private', visible_to: 1, owner_id: 1 }]);
  t.same((await clients(sim.url, 'admin').persons.getPersons({})).data!.map((p) => p.name), ['Everyone', 'Private']);
  t.same((await clients(sim.url, 'user').persons.getPersons({})).data!.map((p) => p.name), ['Everyone']);
});

t.test('every answer carries the rate-limit headers; past the 2-second window, a real 429 body with Retry-After', async (t) => {
  let now = Date.parse('2026-03-01T10:00:00.100Z');
  const sim = await startSim(t, { clock: () => now, companies: [{ companyId: 1, tokens: ['tok', 'other'], windowLimit: 3, dailyBudget: 10 }] });
  const get = (token: string) => fetch(`${sim.url}/api/v2/persons?limit=1`, { headers: { 'x-api-token': token } });
  const first = await get('tok');
  t.equal(first.status, 200);
  t.match(Object.fromEntries(first.headers), { 'x-ratelimit-limit': '3', 'x-ratelimit-remaining': '2', 'x-ratelimit-reset': '2', 'x-daily-requests-left': '9' });
  await get('tok');
  await get('tok');
  const over = await get('tok');
  t.equal(over.status, 429);
  t.match(Object.fromEntries(over.headers), { 'x-ratelimit-remaining': '0', 'retry-after': /^\d+$/ });
  t.same(await over.json(), {
    success: false,
    error: 'Request over limit',
    errorCode: 429,
    error_info: 'Please check developers.pipedrive.com for more information about Pipedrive API.',
    data: null,
    additional_data: null,
  });
  t.equal((await get('other')).status, 200, 'the window is per token');
  const viaClient = await clients(sim.url, 'tok').persons.getPersons({}).catch((e: unknown) => e);
  t.match(viaClient, { success: false, errorCode: 429 }, 'the official client rejects with the 429 body');

  now += 2_000;
  t.equal((await get('tok')).status, 200, 'a new window');
  const byQuery = await fetch(`${sim.url}/api/v2/persons?limit=1&api_token=tok`);
  t.equal(byQuery.status, 200, 'api_token in the query is accepted, as Pipedrive does');
  for (let i = 0; i < 3; i++) await get('other');
  now += 2_000;
  const spent = await get('tok');
  t.equal(spent.status, 429, 'the company’s daily budget is spent');
  t.equal(spent.headers.get('x-daily-requests-left'), '0');
});

t.test('injected faults: the next matching requests fail or are rate-limited as asked', async (t) => {
  const sim = await startSim(t, { companies: [{ companyId: 1, tokens: ['tok'] }] });
  sim.control.faults.rateLimitNext({ count: 1, endpoint: 'persons.list', retryAfterSeconds: 7 });
  sim.control.faults.failNext({ count: 1, endpoint: 'persons.list', status: 503 });
  const a = await fetch(`${sim.url}/api/v2/persons`, { headers: { 'x-api-token': 'tok' } });
  t.equal(a.status, 429);
  t.equal(a.headers.get('retry-after'), '7');
  t.equal((await fetch(`${sim.url}/api/v2/persons`, { headers: { 'x-api-token': 'tok' } })).status, 503);
  t.equal((await fetch(`${sim.url}/api/v2/persons`, { headers: { 'x-api-token': 'tok' } })).status, 200);
});

t.test('seeded persons carry ugly values, the same for the same seed', async (t) => {
  // One instant for both: seeded times are counted back from the simulator's clock.
  const now = Date.now();
  const a = await startSim(t, { clock: () => now, companies: [{ companyId: 1, tokens: ['tok'], persons: 400 }] });
  const b = await startSim(t, { clock: () => now, companies: [{ companyId: 1, tokens: ['tok'], persons: 400 }] });
  t.same(a.control.persons(), b.control.persons());
  const persons = a.control.persons();
  t.ok(persons.some((p) => p.name.trim() === ''), 'some without a name');
  t.ok(persons.some((p) => p.name !== p.name.trim() && p.name.trim() !== ''), 'some with stray whitespace');
  t.ok(persons.some((p) => p.emails.length > 1 && !p.emails[0]!.primary && p.emails.some((e) => e.primary)), 'a primary email that is not the first');
  t.ok(persons.some((p) => p.phones.some((ph) => /^n\/a$/i.test(ph.value))), 'phones without digits');
  t.ok(persons.some((p) => p.postal_address?.value === null), 'addresses only in parts');
  t.ok(persons.some((p) => p.visible_to === 1), 'persons only their owner may see');
  t.ok(new Set(persons.map((p) => p.update_time)).size < persons.length, 'persons that share an update second');
});
