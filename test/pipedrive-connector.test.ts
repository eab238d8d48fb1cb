import t, { type Test } from 'tap';
import type { CountryCode } from 'libphonenumber-js/max';
import { buildPipedriveSim, type CompanyOptions, type PipedriveSimOptions } from '../harness/pipedrive-sim/server.js';
import type { ConnectorPage } from '../src/crm/connector.js';
import { CrmRateLimitedError, CrmUnauthorizedError, CrmUnavailableError } from '../src/crm/errors.js';
import { RollingWindowLimiter } from '../src/crm/rate-limiter.js';
import { PipedriveApi, tokenKey } from '../src/crm/pipedrive/client.js';
import { PipedriveConnector, type ChangesCursor, type PipedriveConnectorOptions } from '../src/crm/pipedrive/connector.js';
import { mapPipedrivePerson, type PipedrivePerson } from '../src/crm/pipedrive/mapping.js';
import { PipedriveRateLimits } from '../src/crm/pipedrive/rate-limit.js';
import type { MirrorChange } from '../src/mirror/writer.js';

const COMPANY: CompanyOptions = { companyId: 7001, name: 'Acme Sales', domain: 'acme', tokens: ['tok', 'tok-2'], windowLimit: 120 };

async function setup(t: Test, company: Partial<CompanyOptions> = {}, connector: Partial<PipedriveConnectorOptions> = {}, sim: PipedriveSimOptions = {}) {
  const s = await buildPipedriveSim({ ...sim, companies: [{ ...COMPANY, ...company }] });
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => s.app.close());
  const url = `http://127.0.0.1:${(s.app.server.address() as { port: number }).port}`;
  const limits = new PipedriveRateLimits(new RollingWindowLimiter());
  const pd = new PipedriveConnector({
    baseUrl: url,
    timeoutMs: 5_000,
    overlapSeconds: 0,
    defaultRegion: 'US' as CountryCode,
    limits,
    lowBudgetRequests: 0,
    lowBudgetIntervalMs: 60_000,
    ...connector,
  });
  return { sim: s.control, pd, limits, account: { accountId: '7001', auth: { api_token: 'tok' } } };
}

async function collect(pages: AsyncIterable<ConnectorPage>): Promise<ConnectorPage[]> {
  const out: ConnectorPage[] = [];
  for await (const page of pages) out.push(page);
  return out;
}

const changesOf = (pages: ConnectorPage[]): MirrorChange[] => pages.flatMap((p) => p.changes);
const byId = (a: { id: string }, b: { id: string }) => Number(a.id) - Number(b.id);

t.test('verify names the company from users/me and proves the token may read persons', async (t) => {
  const { sim, pd } = await setup(t);
  t.same(await pd.verify({ api_token: 'tok' }), { accountId: '7001', accountName: 'Acme Sales', allows: ['contacts.read'] });
  t.same(
    sim.requests.map((r) => [r.endpoint, r.status, r.query]),
    [
      ['users.me', 200, ''],
      ['persons.list', 200, 'limit=1'],
    ],
    'users/me, then one person; the token never in a URL',
  );
  await t.rejects(pd.verify({ api_token: 'unknown-token' }), CrmUnauthorizedError, 'a token Pipedrive refuses');
  const calls = sim.requests.length;
  await t.rejects(pd.verify({ api_token: 'bad token' }), CrmUnauthorizedError);
  await t.rejects(pd.verify({ api_token: 'tok', extra: 1 }), CrmUnauthorizedError);
  t.equal(sim.requests.length, calls, 'malformed auth: no call');
});

t.test('a backfill equals the simulator field for field, with one organizations call per page and the cursor on every page', async (t) => {
  const { sim, pd, account } = await setup(t, { persons: 1_234 });
  const pages = await collect(pd.backfill(account, undefined));
  t.equal(pages.length, 3);
  t.match(pages[0]!.cursor, { after: String });
  t.same(pages.at(-1)!.cursor, { done: true });
  const orgs = new Map(sim.orgs().map((o) => [o.id, o.name]));
  const expected = sim.persons().map((p) => {
    const c = mapPipedrivePerson(p as PipedrivePerson, { companyDomain: 'acme', orgName: p.org_id === null ? undefined : orgs.get(p.org_id), defaultRegion: 'US' as CountryCode });
    return { ...c, source_updated_at: new Date(p.update_time).toISOString() };
  });
  const got = changesOf(pages).sort(byId);
  t.equal(got.length, 1_234);
  t.same(got, expected, 'every person, mapped with its organization name and the company link');
  t.ok(got.some((c) => 'company' in c) && got.some((c) => !('company' in c)), 'with and without an organization');
  t.equal(sim.stats().byEndpoint['organizations.list'], 3, 'organization names fetched once per page');
  t.match(sim.requests.filter((r) => r.endpoint === 'persons.list').map((r) => r.query), ['sort_by=id&limit=500', /^sort_by=id&limit=500&cursor=/, /^sort_by=id&limit=500&cursor=/]);

  // Resumed from the first page's cursor: only what follows it.
  const resumed = changesOf(await collect(pd.backfill(account, pages[0]!.cursor)));
  t.same(resumed.map((c) => c.id), got.slice(500).map((c) => c.id));
  t.same(await collect(pd.backfill(account, { done: true })), [], 'a finished backfill reads nothing');
  // A stored cursor Pipedrive no longer knows restarts the backfill rather than failing forever.
  const restarted = changesOf(await collect(pd.backfill(account, { after: 'expired-cursor' })));
  t.equal(restarted.length, 1_234, 'a refused cursor: the backfill starts over');
});

t.test('an incremental pass re-reads the watermark second, so persons sharing a second across a page boundary are all read', async (t) => {
  const { sim, pd, account } = await setup(t);
  const S = Math.floor(Date.parse('2026-03-01T10:00:00Z') / 1000);
  sim.createPersons([{ name: 'old' }], { at: (S - 100) * 1000 });
  sim.createPersons(Array.from({ length: 620 }, (_, i) => ({ name: `import ${i}` })), { at: S * 1000 + 400 });
  const start: ChangesCursor = { t: S - 10, orgT: S - 10 };
  const pages = await collect(pd.changes(account, start));
  t.equal(changesOf(pages).length, 620, 'the whole crowded second, over two pages');
  t.same(pages[0]!.cursor, { t: S, orgT: S - 10 }, 'the first page ends inside the second: the watermark is that second, not past it');

  // A pass cut short after its first page resumes from that cursor: the rest of the second is read.
  const resumed = changesOf(await collect(pd.changes(account, pages[0]!.cursor)));
  const firstPage = new Set(pages[0]!.changes.map((c) => c.id));
  t.ok(changesOf(pages).filter((c) => !firstPage.has(c.id)).every((c) => resumed.some((r) => r.id === c.id)), 'every person the cut pass had not read');

  // A person written later in the same second is caught by the next pass.
  const [late] = sim.createPersons([{ name: 'same second, later' }], { at: S * 1000 + 900 });
  const next = await collect(pd.changes(account, pages.at(-1)!.cursor));
  t.ok(changesOf(next).some((c) => c.id === String(late!.id)));
  t.notOk(changesOf(next).some((c) => 'name' in c && c.name === 'old'), 'nothing before the watermark');
});

t.test('a recent watermark re-reads the overlap, so a write that lands late is caught', async (t) => {
  let now = Date.parse('2026-03-01T10:00:30Z');
  const { sim, pd, account } = await setup(t, {}, { overlapSeconds: 60, now: () => now });
  const S = Math.floor(now / 1000);
  sim.createPersons([{ name: 'on time' }], { at: (S - 5) * 1000 });
  const first = await collect(pd.changes(account, { t: S - 20, orgT: S - 20 }));
  t.match(first.at(-1)!.cursor, { t: S - 5, readAt: now });
  // Committed after the pass, with an update_time before its watermark (a write that was in flight).
  const [late] = sim.createPersons([{ name: 'late' }], { at: (S - 8) * 1000 });
  now += 120_000;
  const second = changesOf(await collect(pd.changes(account, first.at(-1)!.cursor)));
  t.ok(second.some((c) => c.id === String(late!.id)), 'read by the next pass, however late it runs');
});

t.test("a renamed organization re-maps its persons' company", async (t) => {
  const { sim, pd, account } = await setup(t);
  const X = Math.floor(Date.parse('2026-03-01T10:00:00Z') / 1000);
  const org = sim.createOrg('Old Name', { at: X * 1000 });
  const other = sim.createOrg('Untouched', { at: X * 1000 });
  const [a, b] = sim.createPersons(
    [
      { name: 'A', org_id: org.id },
      { name: 'B', org_id: org.id },
      { name: 'C', org_id: other.id },
    ],
    { at: X * 1000 },
  );
  sim.renameOrg(org.id, 'New Name', { at: (X + 100) * 1000 });
  const pages = await collect(pd.changes(account, { t: X + 1, orgT: X + 1 }));
  const changes = changesOf(pages);
  t.same(
    changes.map((c) => [c.id, 'company' in c ? c.company : undefined]),
    [
      [String(a!.id), 'New Name'],
      [String(b!.id), 'New Name'],
    ],
    'the persons of the renamed organization alone, with its new name',
  );
  t.same(pages.at(-1)!.cursor, { t: X + 1, orgT: X + 100 });
  // The next pass re-reads the watermark's second (inclusive): the same contacts, which the mirror skips as unchanged.
  t.same(changesOf(await collect(pd.changes(account, pages.at(-1)!.cursor))), changes, 'nothing new');
  sim.renameOrg(other.id, 'Touched', { at: (X + 200) * 1000 });
  const later = changesOf(await collect(pd.changes(account, pages.at(-1)!.cursor)));
  t.same(later.map((c) => ('company' in c ? c.company : undefined)), ['New Name', 'New Name', 'Touched']);
});

t.test('401: the credentials are refused (CrmUnauthorizedError), as for HubSpot', async (t) => {
  const { sim, pd, account } = await setup(t, { persons: 10 });
  sim.revokeToken('tok');
  await t.rejects(collect(pd.backfill(account, undefined)), CrmUnauthorizedError);
  await t.rejects(collect(pd.changes(account, undefined)), CrmUnauthorizedError);
});

t.test("a 429 delays this token alone, for Retry-After or else the window's reset", async (t) => {
  const { sim, pd, limits, account } = await setup(t, { persons: 10 });
  await pd.verify({ api_token: 'tok' });
  sim.faults.rateLimitNext({ count: 1, endpoint: 'persons.list', retryAfterSeconds: 7 });
  const err = await collect(pd.backfill(account, undefined)).catch((e: unknown) => e);
  t.type(err, CrmRateLimitedError);
  t.equal((err as CrmRateLimitedError).retryAfterMs, 7_000);
  t.ok(limits.limiter.tryAcquire(tokenKey('tok'), limits.windows(tokenKey('tok'))) > 5_000, 'this token waits');
  t.equal(limits.limiter.tryAcquire(tokenKey('tok-2'), limits.windows(tokenKey('tok-2'))), 0, 'another token (tenant) does not');

  sim.faults.rateLimitNext({ count: 1, endpoint: 'persons.list' });
  const other = { accountId: '7001', auth: { api_token: 'tok-2' } };
  const err2 = await collect(pd.backfill(other, undefined)).catch((e: unknown) => e);
  t.type(err2, CrmRateLimitedError);
  t.ok((err2 as CrmRateLimitedError).retryAfterMs <= 2_000, 'without Retry-After: the reset of the 2-second window');
});

t.test("the window is learned from x-ratelimit-limit and 90 % of it is never exceeded", async (t) => {
  const { sim, pd, limits, account } = await setup(t, { persons: 2_600, windowLimit: 8 });
  const pages = await collect(pd.backfill(account, undefined));
  t.equal(changesOf(pages).length, 2_600);
  t.equal(limits.windows(tokenKey('tok'))[0]!.limit, 7, "90 % of the plan's 8, learned from the answers");
  t.equal(sim.stats().byStatus['429'] ?? 0, 0, 'no 429 over 13 requests against a window of 8');
});

t.test('when the daily budget runs low, the tenant polls at most once per interval', async (t) => {
  let now = Date.parse('2026-03-01T10:00:00Z');
  const { sim, pd, account } = await setup(t, { dailyBudget: 10 }, { lowBudgetRequests: 8, lowBudgetIntervalMs: 600_000, now: () => now }, { clock: () => now });
  await collect(pd.changes(account, undefined));
  t.ok(pd.dailyBudgetLeft('7001')! < 8, 'the budget left is known from the answers');
  await collect(pd.changes(account, undefined));
  const calls = sim.requests.length;
  const err = await collect(pd.changes(account, undefined)).catch((e: unknown) => e);
  t.type(err, CrmRateLimitedError, 'the pass right after is delayed');
  t.ok((err as CrmRateLimitedError).retryAfterMs <= 600_000);
  t.equal(sim.requests.length, calls, 'without a call');
  now += 600_000;
  await collect(pd.changes(account, undefined));
  t.ok(sim.requests.length > calls, 'once the interval has passed, it polls again');
});

t.test('a Pipedrive that does not answer in time, or not at all, is CrmUnavailableError, whose message names neither token nor address', async (t) => {
  const { sim, pd, account } = await setup(t, { persons: 5 }, { timeoutMs: 200 });
  sim.faults.setDelay({ endpoint: 'persons.list', ms: 1_000 });
  const slow = await collect(pd.backfill(account, undefined)).catch((e: unknown) => e);
  t.type(slow, CrmUnavailableError);
  t.notMatch((slow as Error).message, /tok|127\.0\.0\.1|http/);
  sim.faults.setDelay({ endpoint: 'persons.list', ms: 0 });
  sim.faults.failNext({ count: 1, endpoint: 'persons.list', status: 503 });
  t.match(await collect(pd.backfill(account, undefined)).catch((e: unknown) => e), { name: 'CrmUnavailableError', status: 503 });

  const closed = new PipedriveConnector({
    baseUrl: 'http://127.0.0.1:9',
    timeoutMs: 1_000,
    overlapSeconds: 0,
    defaultRegion: 'US' as CountryCode,
    limits: new PipedriveRateLimits(new RollingWindowLimiter()),
    lowBudgetRequests: 0,
    lowBudgetIntervalMs: 1,
  });
  const refused = await closed.verify({ api_token: 'tok' }).catch((e: unknown) => e);
  t.type(refused, CrmUnavailableError);
  t.match((refused as Error).message, /^Pipedrive unreachable \(ECONNREFUSED\)$/);
});

t.test("a window spent elsewhere on the same token (x-ratelimit-remaining) makes the token wait for x-ratelimit-reset", async (t) => {
  const now = Date.parse('2026-03-01T10:00:00.200Z');
  const { sim, pd, limits } = await setup(t, { windowLimit: 10 }, {}, { clock: () => now });
  await pd.verify({ api_token: 'tok' });
  const key = tokenKey('tok');
  t.equal(limits.limiter.tryAcquire(key, limits.windows(key)), 0, 'room left after verifying (2 of the window\'s 10 spent)');
  // The same user's browser or another integration spends most of the window.
  const baseUrl = (pd as unknown as { options: { baseUrl: string } }).options.baseUrl;
  for (let i = 0; i < 7; i++) await fetch(`${baseUrl}/api/v2/persons?limit=1`, { headers: { 'x-api-token': 'tok' } });
  // One more call of ours is the window's 10th: its answer says nothing remains.
  await new PipedriveApi('tok', { baseUrl, timeoutMs: 5_000, limits }).currentUser();
  t.ok(limits.limiter.tryAcquire(key, limits.windows(key)) > 0, 'the token waits for the reset');
  t.equal(limits.limiter.tryAcquire(tokenKey('tok-2'), limits.windows(tokenKey('tok-2'))), 0, 'another token does not');
  t.equal(sim.stats().byStatus['429'] ?? 0, 0, 'without a 429');
});
