import t, { type Test } from 'tap';
import { Client } from '@hubspot/api-client';
import { buildHubSpotSim, type HubSpotSimOptions } from '../harness/hubspot-sim/server.js';
import type { ApiContact } from '../harness/hubspot-sim/contact.js';

/**
 * The simulator driven through the official client, as the ingest code will drive it. Every
 * expectation about HubSpot's behaviour is checked against an independent oracle over the
 * simulator's own full contact list (control.liveContacts), not against the code under test.
 */

const TOKEN = 'demo-token';

async function startSim(t: Test, options: HubSpotSimOptions = {}) {
  const sim = await buildHubSpotSim(options);
  const basePath = await sim.app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => sim.app.close());
  const client = (accessToken = TOKEN) => new Client({ accessToken, basePath, numberOfApiCallRetries: 0 });
  return { ...sim, basePath, client };
}

/** The thrown ApiException of a failing client call. */
async function failure(p: Promise<unknown>): Promise<{ code: number; body: any; headers: Record<string, string> }> {
  try {
    await p;
  } catch (err) {
    return err as { code: number; body: any; headers: Record<string, string> };
  }
  throw new Error('expected the call to fail');
}

type SearchBody = Parameters<Client['crm']['contacts']['searchApi']['doSearch']>[0];

/** The official client types sorts as strings; HubSpot (and the sim) also take {propertyName, direction}. */
function searchBody(b: Omit<SearchBody, 'sorts'> & { sorts?: unknown[] }): SearchBody {
  return b as SearchBody;
}

t.test('account details and authentication', async (t) => {
  const { client } = await startSim(t, { portals: [{ portalId: 4242, tokens: [TOKEN, 'second-token'] }] });

  const res = await client().apiRequest({ method: 'GET', path: '/account-info/v3/details' });
  t.equal(res.status, 200);
  t.strictSame(await res.json(), {
    portalId: 4242,
    accountType: 'STANDARD',
    timeZone: 'US/Eastern',
    companyCurrency: 'USD',
    additionalCurrencies: [],
    utcOffset: '-05:00',
    utcOffsetMilliseconds: -18000000,
    uiDomain: 'app.hubspot.com',
    dataHostingLocation: 'na1',
  });
  const second = await client('second-token').apiRequest({ method: 'GET', path: '/account-info/v3/details' });
  t.equal(((await second.json()) as { portalId: number }).portalId, 4242, 'every token of a portal works');

  const bad = await client('not-a-token').apiRequest({ method: 'GET', path: '/account-info/v3/details' });
  t.equal(bad.status, 401);
  const body = (await bad.json()) as Record<string, string>;
  t.equal(body.status, 'error');
  t.equal(body.category, 'INVALID_AUTHENTICATION');
  t.match(body.message, /^Authentication credentials not found/);
  t.match(body.correlationId, /^[0-9a-f-]{36}$/);

  const err = await failure(client('not-a-token').crm.contacts.basicApi.getPage(10));
  t.equal(err.code, 401, 'the official client sees a 401 too');
  t.equal(err.body.category, 'INVALID_AUTHENTICATION');
});

t.test('the simulator answers 403 MISSING_SCOPES on every contacts endpoint to a token without the scope', async (t) => {
  const { basePath, control } = await startSim(t, { portals: [{ portalId: 7302, tokens: ['all-scopes'], scopedTokens: [{ token: 'low', scopes: ['tickets'] }], contacts: 2 }] });
  const get = (path: string, token: string, init: RequestInit = {}) =>
    fetch(`${basePath}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } });

  t.equal((await get('/account-info/v3/details', 'low')).status, 200, 'account details: any token of the portal');
  const id = control.liveContacts({ portalId: 7302 })[0]!.id;
  for (const [path, init] of [
    ['/crm/v3/objects/contacts?limit=1', {}],
    ['/crm/v3/objects/contacts/search', { method: 'POST', body: JSON.stringify({ limit: 1 }) }],
    [`/crm/v3/objects/contacts/${id}`, {}],
    ['/crm/v3/objects/contacts', { method: 'POST', body: JSON.stringify({ properties: { firstname: 'X' } }) }],
  ] as const) {
    const res = await get(path, 'low', init);
    const body = (await res.json()) as { category?: string; errors?: Array<{ context?: { requiredGranularScopes?: string[] } }> };
    t.equal(res.status, 403, `${init.method ?? 'GET'} ${path}`);
    t.equal(body.category, 'MISSING_SCOPES');
    t.match(body.errors?.[0]?.context?.requiredGranularScopes?.[0], /^crm\.objects\.contacts\.(read|write)$/);
  }
  t.equal((await get('/crm/v3/objects/contacts?limit=1', 'all-scopes')).status, 200, 'a token with every scope reads them');

  control.addToken('added-low', { portalId: 7302, scopes: ['crm.objects.contacts.write'] });
  t.equal((await get('/crm/v3/objects/contacts?limit=1', 'added-low')).status, 403, 'tokens added at run time can be limited too');
  t.same(control.tokenScopes('added-low'), ['crm.objects.contacts.write']);
  const overHttp = await fetch(`${basePath}/__sim/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'http-low', portalId: 7302, scopes: ['tickets'] }) });
  t.equal(overHttp.status, 200);
  t.equal((await get('/crm/v3/objects/contacts?limit=1', 'http-low')).status, 403, 'and over /__sim/tokens');
  const listed = (await (await fetch(`${basePath}/__sim/portals`)).json()) as Array<{ scopedTokens: Array<{ token: string }> }>;
  t.same(listed[0]!.scopedTokens.map((s) => s.token).sort(), ['added-low', 'http-low', 'low']);
  t.same(control.stats().portals['7302']!.byEndpoint['contacts.list'], { 200: 1, 403: 3 });
});

t.test('the list endpoint pages every live contact exactly once, in id order', async (t) => {
  const { client, control } = await startSim(t, { portals: [{ portalId: 1, tokens: [TOKEN], contacts: 1234 }], rateLimits: { tenSecondly: 1000 } });
  const archivedIds = control.liveContacts().filter((_, i) => i % 37 === 5).map((c) => c.id);
  control.archiveContacts(archivedIds);
  const expected = control.liveContacts().map((c) => c.id);
  t.equal(expected.length, 1234 - archivedIds.length);

  const seen: string[] = [];
  const cursors: string[] = [];
  const problems: string[] = [];
  let after: string | undefined;
  do {
    const page = await client().crm.contacts.basicApi.getPage(100, after, ['email', 'phone', 'nosuchproperty']);
    for (const c of page.results) {
      seen.push(c.id);
      const keys = Object.keys(c.properties).sort().join(',');
      if (keys !== 'createdate,email,hs_object_id,lastmodifieddate,phone') problems.push(`${c.id}: properties ${keys}`);
      for (const v of Object.values(c.properties)) if (v !== null && typeof v !== 'string') problems.push(`${c.id}: non-string ${String(v)}`);
      if (c.properties.hs_object_id !== c.id) problems.push(`${c.id}: hs_object_id ${c.properties.hs_object_id}`);
      if (c.archived !== false) problems.push(`${c.id}: archived`);
      if (c.updatedAt.toISOString() !== c.properties.lastmodifieddate) problems.push(`${c.id}: updatedAt differs from lastmodifieddate`);
      if (c.createdAt.toISOString() !== c.properties.createdate) problems.push(`${c.id}: createdAt differs from createdate`);
    }
    after = page.paging?.next?.after;
    if (after !== undefined) {
      cursors.push(after);
      if (!/^http:\/\/127\.0\.0\.1:\d+\/crm\/v3\/objects\/contacts\?/.test(page.paging?.next?.link ?? '')) problems.push(`link ${page.paging?.next?.link}`);
    }
  } while (after !== undefined);

  t.strictSame(problems, [], 'only the requested properties plus the system ones, as strings or null; a followable link');
  t.strictSame(seen, expected, 'every live contact once, ascending by id, none archived');
  t.ok(cursors.every((c) => !/^\d+$/.test(c)), 'the cursor is opaque, not an id');
  t.ok(seen.every((id, i) => i === 0 || Number(id) > Number(seen[i - 1])), 'numeric id order');

  const capped = await client().crm.contacts.basicApi.getPage(500);
  t.equal(capped.results.length, 100, 'limit is capped at 100');
  const defaults = await client().crm.contacts.basicApi.getPage();
  t.equal(defaults.results.length, 10, 'limit defaults to 10');
  t.same(Object.keys(defaults.results[0]!.properties).sort(), ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname']);

  const archived: string[] = [];
  after = undefined;
  do {
    const page = await client().crm.contacts.basicApi.getPage(100, after, ['email'], undefined, undefined, true);
    for (const c of page.results) {
      archived.push(c.id);
      if (c.archived !== true || !(c.archivedAt instanceof Date)) problems.push(`${c.id}: not marked archived`);
    }
    after = page.paging?.next?.after;
  } while (after !== undefined);
  t.strictSame(problems, [], 'archived contacts say so and carry archivedAt');
  t.strictSame(archived, archivedIds, 'archived=true lists exactly the archived contacts');

  const err = await failure(client().crm.contacts.basicApi.getPage(10, 'not a cursor'));
  t.equal(err.code, 400);
  t.equal(err.body.category, 'VALIDATION_ERROR');
});

/** Search semantics: the oracle is a plain filter/sort over the full contact list. */
t.test('search filters, sorts and pages like HubSpot', async (t) => {
  const T0 = Date.parse('2024-03-01T00:00:00.000Z');
  const { client, control } = await startSim(t, { portals: [{ portalId: 9, tokens: [TOKEN], firstId: 950 }], rateLimits: { searchPerSecond: 1000 } });
  // 120 contacts over 40 distinct timestamps: plenty of ties, and ids from 3 to 4 digits, where
  // comparing them as strings would go wrong.
  for (let i = 0; i < 120; i++) control.createContacts([{ email: `c${i}@example.com` }], { at: T0 + (i % 40) * 1000 });
  control.archiveContacts([control.liveContacts()[3]!.id], { at: T0 + 5000 });
  const all = control.liveContacts();
  t.ok(all[0]!.id.length === 3 && all[all.length - 1]!.id.length === 4, 'ids span 3 and 4 digits');

  const ms = (c: ApiContact) => Date.parse(c.properties.lastmodifieddate!);
  const byTsAsc = (a: ApiContact, b: ApiContact) => ms(a) - ms(b) || Number(a.id) - Number(b.id);
  const byTsDesc = (a: ApiContact, b: ApiContact) => ms(b) - ms(a) || Number(a.id) - Number(b.id);

  async function searchAll(body: Omit<SearchBody, 'limit' | 'after' | 'sorts'> & { sorts?: unknown[] }, limit = 7) {
    const ids: string[] = [];
    let after: string | undefined = '0';
    let total = -1;
    while (after !== undefined) {
      const page = await client().crm.contacts.searchApi.doSearch(searchBody({ ...body, limit, after }));
      total = page.total;
      ids.push(...page.results.map((c) => c.id));
      after = page.paging?.next?.after;
    }
    return { ids, total };
  }

  const t10 = T0 + 10_000;
  const t20 = T0 + 20_000;
  const lmd = (operator: string, value: string | number) => ({ propertyName: 'lastmodifieddate', operator, value: String(value) });
  const oid = (operator: string, value: string) => ({ propertyName: 'hs_object_id', operator, value });
  const byIdAsc = (a: ApiContact, b: ApiContact) => Number(a.id) - Number(b.id);
  const x15 = Number(all[15]!.id);
  const x60 = Number(all[60]!.id);
  type Case = { name: string; filters: object[][]; sort?: unknown; keep: (c: ApiContact) => boolean; order: (a: ApiContact, b: ApiContact) => number };
  const cases: Case[] = [
    { name: 'GTE ms', filters: [[lmd('GTE', t10)]], sort: { propertyName: 'lastmodifieddate', direction: 'ASCENDING' }, keep: (c) => ms(c) >= t10, order: byTsAsc },
    { name: 'GT ISO', filters: [[lmd('GT', new Date(t10).toISOString())]], sort: 'lastmodifieddate', keep: (c) => ms(c) > t10, order: byTsAsc },
    { name: 'GTE + LT window', filters: [[lmd('GTE', t10), lmd('LT', t20)]], sort: 'lastmodifieddate', keep: (c) => ms(c) >= t10 && ms(c) < t20, order: byTsAsc },
    { name: 'LTE descending', filters: [[lmd('LTE', t20)]], sort: { propertyName: 'lastmodifieddate', direction: 'DESCENDING' }, keep: (c) => ms(c) <= t20, order: byTsDesc },
    { name: 'EQ, all ties', filters: [[lmd('EQ', t10)]], sort: '-lastmodifieddate', keep: (c) => ms(c) === t10, order: byTsDesc },
    { name: 'NEQ', filters: [[lmd('NEQ', t10)]], sort: 'lastmodifieddate', keep: (c) => ms(c) !== t10, order: byTsAsc },
    {
      name: 'keyset: (ts = t AND id > x) OR ts > t',
      filters: [[lmd('EQ', t10), oid('GT', String(x15))], [lmd('GT', t10)]],
      sort: { propertyName: 'lastmodifieddate', direction: 'ASCENDING' },
      keep: (c) => (ms(c) === t10 && Number(c.id) > x15) || ms(c) > t10,
      order: byTsAsc,
    },
    { name: 'hs_object_id compares as a number', filters: [[oid('GT', '990')]], sort: { propertyName: 'hs_object_id', direction: 'ASCENDING' }, keep: (c) => Number(c.id) > 990, order: byIdAsc },
    { name: 'hs_object_id LTE descending', filters: [[oid('LTE', String(x60))]], sort: { propertyName: 'hs_object_id', direction: 'DESCENDING' }, keep: (c) => Number(c.id) <= x60, order: (a, b) => byIdAsc(b, a) },
    { name: 'no filters, default sort', filters: [], keep: () => true, order: byIdAsc },
  ];
  for (const c of cases) {
    const expected = all.filter(c.keep).sort(c.order).map((x) => x.id);
    for (const limit of [7, 200]) {
      const filterGroups = c.filters.map((filters) => ({ filters })) as SearchBody['filterGroups'];
      const got = await searchAll({ filterGroups, ...(c.sort === undefined ? {} : { sorts: [c.sort] }), properties: ['email'] }, limit);
      t.strictSame(got.ids, expected, `${c.name} (limit ${limit})`);
      t.equal(got.total, expected.length, `${c.name}: total`);
    }
  }

  const page = await client().crm.contacts.searchApi.doSearch(searchBody({ filterGroups: [], properties: ['email'], limit: 2, after: '0' }));
  t.same(Object.keys(page.results[0]!.properties).sort(), ['createdate', 'email', 'hs_object_id', 'lastmodifieddate']);
  t.equal(page.paging?.next?.after, '2', 'search cursors are offsets');
  const dflt = await client().crm.contacts.searchApi.doSearch(searchBody({ filterGroups: [] }));
  t.equal(dflt.results.length, 10, 'limit defaults to 10');
  t.notOk(
    (await searchAll({ filterGroups: [] }, 200)).ids.includes(control.archivedContacts()[0]!.id),
    'archived contacts are not searchable',
  );

  const tooBig = await failure(client().crm.contacts.searchApi.doSearch(searchBody({ filterGroups: [], limit: 201 })));
  t.equal(tooBig.code, 400, 'limit above 200 is refused');
  const badValue = await failure(
    client().crm.contacts.searchApi.doSearch(searchBody({ filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GT' as any, value: 'yesterday' }] }] })),
  );
  t.equal(badValue.code, 400, 'an unparseable instant is refused');
});

t.test('search refuses to page past 10,000 results', async (t) => {
  const { client, control } = await startSim(t, { portals: [{ portalId: 7, tokens: [TOKEN], contacts: 10_050 }], rateLimits: { searchPerSecond: 100 } });
  const search = (after: string, limit: number) =>
    client().crm.contacts.searchApi.doSearch(searchBody({ filterGroups: [], sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }], limit, after }));

  const last = await search('9800', 200);
  t.equal(last.results.length, 200, 'the page that ends at exactly 10,000 is served');
  t.equal(last.total, 10_050, 'total counts every match, past the window too');
  t.equal(last.paging?.next?.after, '10000', 'and it points past the window, as HubSpot does');

  // A 10k index spans many chunks and has import ties: check order against the full list.
  const all = control.liveContacts();
  const ms = (c: ApiContact) => Date.parse(c.properties.lastmodifieddate!);
  const desc = [...all].sort((a, b) => ms(b) - ms(a) || Number(a.id) - Number(b.id)).map((c) => c.id);
  const asc = [...all].sort((a, b) => ms(a) - ms(b) || Number(a.id) - Number(b.id)).map((c) => c.id);
  for (const after of ['0', '4000', '9800']) {
    const d = await client().crm.contacts.searchApi.doSearch(searchBody({ filterGroups: [], sorts: ['-lastmodifieddate'], limit: 200, after }));
    t.strictSame(d.results.map((c) => c.id), desc.slice(Number(after), Number(after) + 200), `descending page at ${after}`);
    const a = await client().crm.contacts.searchApi.doSearch(searchBody({ filterGroups: [], sorts: ['lastmodifieddate'], limit: 200, after }));
    t.strictSame(a.results.map((c) => c.id), asc.slice(Number(after), Number(after) + 200), `ascending page at ${after}`);
  }
  const mid = ms(all[5000]!);
  const windowed = await client().crm.contacts.searchApi.doSearch(
    searchBody({ filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE' as any, value: String(mid) }, { propertyName: 'hs_object_id', operator: 'LT' as any, value: all[7000]!.id }] }], sorts: ['lastmodifieddate'], limit: 200 }),
  );
  t.equal(windowed.total, all.filter((c) => ms(c) >= mid && Number(c.id) < Number(all[7000]!.id)).length, 'total of a filter the index cannot answer by ranks');

  for (const [after, limit] of [['10000', 1], ['9950', 100], ['9999', 2]] as const) {
    const err = await failure(search(after, limit));
    t.equal(err.code, 400, `after ${after} + limit ${limit} is an error`);
    t.match(err.body, { status: 'error', category: 'VALIDATION_ERROR', message: 'There was a problem with the request.' });
    t.match(err.body.correlationId, /^[0-9a-f-]{36}$/);
  }
});

t.test('search sees writes only after the index lag; the list sees them at once', async (t) => {
  const { client, control } = await startSim(t, { searchLagMs: 400, rateLimits: { searchPerSecond: 100 } });
  const [old] = control.createContacts([{ email: 'old@example.com' }], { at: Date.now() - 60_000 });
  await control.searchSettled();

  const searchIds = async () => {
    const r = await client().crm.contacts.searchApi.doSearch(searchBody({ filterGroups: [], properties: ['email'], limit: 100 }));
    return new Map(r.results.map((c) => [c.id, c]));
  };
  const listIds = async () => (await client().crm.contacts.basicApi.getPage(100, undefined, ['email'])).results.map((c) => c.id);

  const [fresh] = control.createContacts([{ email: 'new@example.com' }]);
  control.editContact(old!.id, { email: 'edited@example.com' });
  t.ok((await listIds()).includes(fresh!.id), 'the list has the new contact at once');
  let s = await searchIds();
  t.notOk(s.has(fresh!.id), 'search does not, yet');
  t.equal(s.get(old!.id)?.properties.email, 'old@example.com', 'search still serves the previous version');

  await control.searchSettled();
  s = await searchIds();
  t.ok(s.has(fresh!.id), 'after the lag search has the new contact');
  t.equal(s.get(old!.id)?.properties.email, 'edited@example.com', 'and the edit');

  control.archiveContacts([fresh!.id]);
  t.notOk((await listIds()).includes(fresh!.id), 'the list drops an archived contact at once');
  t.ok((await searchIds()).has(fresh!.id), 'search keeps it until the lag passes');
  await control.searchSettled();
  t.notOk((await searchIds()).has(fresh!.id));
});

t.test('lastmodifieddate: every write moves it, bulk edits share one', async (t) => {
  const { client, control } = await startSim(t, { portals: [{ portalId: 3, tokens: [TOKEN], contacts: 300 }], rateLimits: { searchPerSecond: 100 } });
  const before = control.liveContacts()[0]!;
  await new Promise((r) => setTimeout(r, 5));
  const touched = control.touchContact(before.id);
  t.ok(Date.parse(touched.properties.lastmodifieddate!) > Date.parse(before.properties.lastmodifieddate!), 'an edit that changes nothing still bumps it');
  t.strictSame({ ...touched.properties, lastmodifieddate: null }, { ...before.properties, lastmodifieddate: null }, 'and changes nothing else');
  t.match(touched.properties.lastmodifieddate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'millisecond ISO');

  const at = Date.parse('2030-01-01T00:00:00.123Z');
  const res = control.bulkEdit({ count: 150, properties: { company: 'Imported Co' }, at });
  t.strictSame(res, { updated: 150, lastmodifieddate: '2030-01-01T00:00:00.123Z' });
  const edited = control.liveContacts().filter((c) => c.properties.lastmodifieddate === res.lastmodifieddate);
  t.equal(edited.length, 150);
  t.ok(edited.every((c) => c.properties.company === 'Imported Co'));

  const ids: string[] = [];
  let after: string | undefined = '0';
  while (after !== undefined) {
    const page = await client().crm.contacts.searchApi.doSearch(
      searchBody({ filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE' as any, value: String(at) }] }], sorts: ['lastmodifieddate'], limit: 40, after }),
    );
    t.equal(page.total, 150);
    ids.push(...page.results.map((c) => c.id));
    after = page.paging?.next?.after;
  }
  t.strictSame(ids, edited.map((c) => c.id), 'ties on lastmodifieddate come back in id order, each once');
});

t.test('rate limits: ten-secondly for everything but search, per-second for search', async (t) => {
  const { client, control } = await startSim(t, { rateLimits: { tenSecondly: 5, searchPerSecond: 2 } });
  const remaining: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await client().apiRequest({ method: 'GET', path: '/crm/v3/objects/contacts' });
    t.equal(res.status, 200);
    t.equal(res.headers.get('x-hubspot-ratelimit-max'), '5');
    t.equal(res.headers.get('x-hubspot-ratelimit-interval-milliseconds'), '10000');
    remaining.push(res.headers.get('x-hubspot-ratelimit-remaining') ?? '');
  }
  t.strictSame(remaining, ['4', '3', '2', '1', '0']);

  const err = await failure(client().crm.contacts.basicApi.getPage(10));
  t.equal(err.code, 429);
  t.match(err.body, {
    status: 'error',
    message: 'You have reached your ten_secondly_rolling limit.',
    errorType: 'RATE_LIMIT',
    policyName: 'TEN_SECONDLY_ROLLING',
    groupName: /^publicapi:/,
  });
  t.match(err.body.correlationId, /^[0-9a-f-]{36}$/);
  t.equal(err.headers['x-hubspot-ratelimit-remaining'], '0');
  t.equal(err.headers['x-hubspot-ratelimit-max'], '5');

  // Search is exempt from the ten-secondly limit but has its own, and (like HubSpot's) sends no
  // X-HubSpot-RateLimit-* headers.
  const search = () => client().crm.contacts.searchApi.doSearch(searchBody({ filterGroups: [] }));
  const raw = await client().apiRequest({ method: 'POST', path: '/crm/v3/objects/contacts/search', body: { filterGroups: [] } });
  t.equal(raw.status, 200, 'search is served while the ten-secondly allowance is used up');
  t.equal(raw.headers.get('x-hubspot-ratelimit-remaining'), null);
  t.match(raw.headers.get('x-hubspot-correlation-id'), /^[0-9a-f-]{36}$/);
  await search();
  const searchErr = await failure(search());
  t.equal(searchErr.code, 429);
  t.match(searchErr.body, { message: 'You have reached your secondly limit.', errorType: 'RATE_LIMIT', policyName: 'SECONDLY' });

  const stats = control.stats();
  t.equal(stats.rateLimited, 2);
  t.equal(stats.portals['62515']!.rateLimited, 2);
  t.same(stats.portals['62515']!.byEndpoint['contacts.list'], { 200: 5, 429: 1 });
  t.same(stats.portals['62515']!.byEndpoint['contacts.search'], { 200: 2, 429: 1 });
  t.equal(stats.portals['62515']!.maxRequestsPerTenSeconds, 9);

  await new Promise((r) => setTimeout(r, 1100));
  t.ok(await search(), 'the search allowance comes back after a second');
  control.resetRateLimitWindows();
  t.ok(await client().crm.contacts.basicApi.getPage(1), 'and the ten-secondly one after the window (reset here)');
});

t.test('fault injection', async (t) => {
  const { client, control, basePath } = await startSim(t, { rateLimits: { tenSecondly: 1000 } });
  control.createContacts([{ email: 'a@example.com' }]);

  control.failNext({ count: 2, status: 503, endpoint: 'contacts.list' });
  t.equal((await failure(client().crm.contacts.basicApi.getPage(10))).code, 503);
  const details = await client().apiRequest({ method: 'GET', path: '/account-info/v3/details' });
  t.equal(details.status, 200, 'a fault scoped to one endpoint leaves the others alone');
  const second = await failure(client().crm.contacts.basicApi.getPage(10));
  t.equal(second.code, 503);
  t.match(second.body, { status: 'error', correlationId: /^[0-9a-f-]{36}$/ });
  t.equal((await client().crm.contacts.basicApi.getPage(10)).results.length, 1, 'then it recovers');

  control.failNext({ count: 1, portalId: 999 });
  t.ok(await client().crm.contacts.basicApi.getPage(10), 'a fault for another portal does not apply');
  control.resetFaults();

  // `skip` aims a fault past the first matching requests (an onboarding verification's contact read).
  control.failNext({ count: 1, skip: 2, status: 502, endpoint: 'contacts.list' });
  control.failNext({ count: 1, status: 504, endpoint: 'contacts.list' });
  t.equal((await failure(client().crm.contacts.basicApi.getPage(10))).code, 504, 'a skipping fault lets the request on to the next one');
  t.ok(await client().crm.contacts.basicApi.getPage(10), 'the second is let through');
  t.equal((await failure(client().crm.contacts.basicApi.getPage(10))).code, 502, 'the third gets it');
  t.same(control.faults().queued, [], 'and it is used up');

  control.rateLimitNext({ count: 1, retryAfterSeconds: 7 });
  control.rateLimitNext({ count: 1 });
  const withRetry = await failure(client().crm.contacts.basicApi.getPage(10));
  t.equal(withRetry.code, 429);
  t.equal(withRetry.headers['retry-after'], '7');
  t.equal(withRetry.body.policyName, 'TEN_SECONDLY_ROLLING');
  const without = await failure(client().crm.contacts.basicApi.getPage(10));
  t.equal(without.code, 429);
  t.equal(without.headers['retry-after'], undefined, 'no Retry-After unless asked for');

  control.setDelay({ ms: 250 });
  const started = Date.now();
  await Promise.all(Array.from({ length: 6 }, () => client().crm.contacts.basicApi.getPage(10)));
  t.ok(Date.now() - started >= 240, 'responses are delayed');
  t.equal(control.stats().portals['62515']!.maxInFlight, 6, 'the six parallel requests were in flight together');
  t.equal(control.stats().portals['62515']!.inFlight, 0);
  control.setDelay({ ms: 0 });

  control.revokeToken(TOKEN);
  t.equal((await failure(client().crm.contacts.basicApi.getPage(10))).code, 401, 'a revoked token is refused');
  control.addToken('rotated-token');
  t.ok(await client('rotated-token').crm.contacts.basicApi.getPage(10), 'an added token works');

  // The same through HTTP, as an out-of-process test would drive it.
  const post = (path: string, body: unknown) =>
    fetch(`${basePath}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  t.equal((await post('/__sim/faults/fail', { count: 1, status: 502, endpoint: 'contacts.search' })).status, 200);
  const viaHttp = await failure(client('rotated-token').crm.contacts.searchApi.doSearch(searchBody({ filterGroups: [] })));
  t.equal(viaHttp.code, 502);
  t.equal((await post('/__sim/faults/rate-limit', { count: 1, retryAfterSeconds: 2 })).status, 200);
  t.equal((await failure(client('rotated-token').crm.contacts.basicApi.getPage(1))).headers['retry-after'], '2');
  t.equal((await post('/__sim/tokens/revoke', { token: 'rotated-token' })).status, 200);
  t.equal((await failure(client('rotated-token').crm.contacts.basicApi.getPage(1))).code, 401);
  t.equal((await post('/__sim/faults/fail', { count: 0 })).status, 400, 'bad control input is a 400');

  const created = (await (await post('/__sim/contacts', { contacts: [{ email: 'b@example.com', phone: '(415) 555-0132' }] })).json()) as ApiContact[];
  t.equal(created[0]!.properties.phone, '(415) 555-0132');
  const stats = (await (await fetch(`${basePath}/__sim/stats`)).json()) as { portals: Record<string, { byEndpoint: Record<string, Record<string, number>> }> };
  t.equal(stats.portals['62515']!.byEndpoint['contacts.search']!['502'], 1);
  t.equal((await fetch(`${basePath}/__sim/contacts`).then((r) => r.json()) as unknown[]).length, 2);
});

t.test('single-object endpoints: create, read, update, archive', async (t) => {
  const { client, control } = await startSim(t);
  const api = client().crm.contacts.basicApi;
  const created = await api.create({ properties: { email: 'x@example.com', phone: ' 555-0100 ext. 12 ' }, associations: [] });
  t.equal(created.properties.email, 'x@example.com');
  t.equal(created.properties.phone, ' 555-0100 ext. 12 ', 'values are stored as sent');
  const read = await api.getById(created.id, ['phone', 'city']);
  t.strictSame(read.properties, { ...read.properties, phone: ' 555-0100 ext. 12 ', city: null }, 'a known property without a value reads as null');
  const updated = await api.update(created.id, { properties: { city: 'Lisbon' } });
  t.equal(updated.properties.city, 'Lisbon');
  t.equal(control.getContact(created.id)?.properties.city, 'Lisbon');

  const bad = await failure(api.update(created.id, { properties: { lastmodifieddate: '2020-01-01', nosuch: 'x' } as any }));
  t.equal(bad.code, 400);
  t.match(bad.body.message, /READ_ONLY_VALUE[\s\S]*PROPERTY_DOESNT_EXIST/);

  await api.archive(created.id);
  t.equal((await failure(api.getById(created.id))).code, 404);
  t.equal((await api.getById(created.id, undefined, undefined, undefined, true)).archived, true);
  t.equal((await failure(api.getById('12345678'))).body.category, 'OBJECT_NOT_FOUND');
});

t.test('portals are isolated', async (t) => {
  const { client, control } = await startSim(t, {
    portals: [
      { portalId: 10, tokens: ['tok-10'], contacts: 20 },
      { portalId: 20, tokens: ['tok-20'], contacts: 30 },
    ],
    rateLimits: { tenSecondly: 3 },
  });
  t.equal((await client('tok-10').crm.contacts.basicApi.getPage(100)).results.length, 20);
  t.equal((await client('tok-20').crm.contacts.basicApi.getPage(100)).results.length, 30);
  await client('tok-10').crm.contacts.basicApi.getPage(1);
  await client('tok-10').crm.contacts.basicApi.getPage(1);
  t.equal((await failure(client('tok-10').crm.contacts.basicApi.getPage(1))).code, 429);
  t.ok(await client('tok-20').crm.contacts.basicApi.getPage(1), 'one portal’s limit does not throttle another');
  control.createContacts([{ email: 'only-in-20@example.com' }], { portalId: 20 });
  t.equal(control.liveContacts({ portalId: 10 }).length, 20);
  t.equal(control.liveContacts({ portalId: 20 }).length, 31);
});

t.test('the generator is deterministic and messy in the ways real portals are', async (t) => {
  const a = await buildHubSpotSim({ portals: [{ portalId: 1, tokens: ['x'], contacts: 3000 }], seed: 42, clock: () => Date.parse('2025-01-01T00:00:00Z') });
  const b = await buildHubSpotSim({ portals: [{ portalId: 1, tokens: ['x'], contacts: 3000 }], seed: 42, clock: () => Date.parse('2025-01-01T00:00:00Z') });
  const c = await buildHubSpotSim({ portals: [{ portalId: 1, tokens: ['x'], contacts: 3000 }], seed: 43, clock: () => Date.parse('2025-01-01T00:00:00Z') });
  const contacts = a.control.liveContacts();
  t.equal(JSON.stringify(contacts), JSON.stringify(b.control.liveContacts()), 'same seed, same contacts, ids and timestamps');
  t.not(JSON.stringify(contacts.map((x) => x.properties.email)), JSON.stringify(c.control.liveContacts().map((x) => x.properties.email)), 'another seed, other contacts');

  const values = (k: string) => contacts.map((x) => x.properties[k]);
  const some = (k: string, p: (v: string) => boolean) => values(k).some((v) => typeof v === 'string' && p(v));
  t.ok(values('firstname').some((v) => v === null || v === ''), 'some first names are missing');
  t.ok(some('phone', (v) => /^\(\d{3}\) 555-\d{4}$/.test(v)), 'US (xxx) notation');
  t.ok(some('phone', (v) => v.startsWith('+44 ')), 'international numbers');
  t.ok(some('phone', (v) => / ext\. \d+$/.test(v)), 'extensions');
  t.ok(some('phone', (v) => v.toLowerCase() === 'n/a'), 'n/a');
  t.ok(values('phone').some((v) => v === null || v === ''), 'missing phones');
  t.ok(some('hs_additional_emails', (v) => /^[^;\s]+@[^;\s]+(;[^;\s]+@[^;\s]+)+$/.test(v)), 'several additional emails joined with ;');
  t.ok(some('twitterhandle', (v) => v.startsWith('@')) && some('twitterhandle', (v) => !v.startsWith('@')), 'handles with and without @');
  t.ok(some('company', (v) => v !== v.trim()) || some('firstname', (v) => v !== v.trim()), 'surrounding whitespace');
  const emails = values('email').filter((v): v is string => typeof v === 'string' && v.trim() !== '');
  const lower = new Map<string, Set<string>>();
  for (const e of emails) lower.set(e.trim().toLowerCase(), (lower.get(e.trim().toLowerCase()) ?? new Set()).add(e.trim()));
  t.ok([...lower.values()].some((s) => s.size > 1), 'emails that differ only by case');
  t.ok(contacts.every((x) => Object.values(x.properties).every((v) => v === null || typeof v === 'string')), 'values are strings or null');
  t.ok(contacts.every((x) => /^\d+$/.test(x.id)), 'numeric string ids');
  t.ok(contacts.every((x) => Date.parse(x.properties.createdate!) <= Date.parse(x.properties.lastmodifieddate!)), 'created before modified');
  const stamps = new Map<string, number>();
  for (const x of contacts) stamps.set(x.properties.lastmodifieddate!, (stamps.get(x.properties.lastmodifieddate!) ?? 0) + 1);
  t.ok([...stamps.values()].some((n) => n > 10), 'imports leave many contacts on one lastmodifieddate');
});

t.test('a 40k-contact portal: backfill through the list, incremental search stays fast', async (t) => {
  const { client, control } = await startSim(t, {
    portals: [{ portalId: 5, tokens: [TOKEN], contacts: 40_000 }],
    rateLimits: { tenSecondly: 100_000, searchPerSecond: 1000 },
  });
  const started = Date.now();
  let count = 0;
  let after: string | undefined;
  do {
    const page = await client().crm.contacts.basicApi.getPage(100, after, ['email', 'phone', 'firstname', 'lastname']);
    count += page.results.length;
    after = page.paging?.next?.after;
  } while (after !== undefined);
  t.equal(count, 40_000);
  t.comment(`backfill of 40k took ${Date.now() - started} ms`); // reported, never asserted

  // The edits' time is fixed before they are made: making 8,000 of them on a busy machine can
  // take longer than any margin added to "now".
  const at = Date.now() + 1000;
  control.bulkEdit({ count: 8_000, at });
  const page = await client().crm.contacts.searchApi.doSearch(
    searchBody({ filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE' as any, value: String(at) }] }], sorts: ['lastmodifieddate'], limit: 200, after: '7800' }),
  );
  t.equal(page.total, 8_000);
  t.equal(page.results.length, 200);
});
