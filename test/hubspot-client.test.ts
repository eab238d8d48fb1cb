import t from 'tap';
import { HubSpotApi } from '../src/crm/hubspot/client.js';
import { CrmRateLimitedError, CrmUnauthorizedError, CrmUnavailableError } from '../src/crm/errors.js';
import { RollingWindowLimiter } from '../src/crm/rate-limiter.js';
import { startSim } from './helpers/ingest.js';

t.test('HubSpot answers become the errors ingest acts on', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: 5150, tokens: ['good'], contacts: 5 }] });
  const seen: Array<[string, number]> = [];
  const options = {
    baseUrl: sim.url,
    // Generous: a first request on a busy machine may take a while. The stalled calls below use a short one.
    timeoutMs: 10_000,
    tenSecondLimit: 100,
    searchPerSecondLimit: 5,
    limiter: new RollingWindowLimiter(),
    onResponse: (endpoint: string, status: number) => seen.push([endpoint, status]),
  };
  const api = new HubSpotApi('good', '5150', options);
  t.same(await api.accountDetails(), { portalId: '5150' });
  t.equal((await api.listContacts(['email'], undefined, false)).results.length, 5);

  await t.rejects(new HubSpotApi('revoked', 'x', options).accountDetails(), CrmUnauthorizedError);
  await t.rejects(new HubSpotApi('revoked', 'x', options).listContacts(['email'], undefined, false), CrmUnauthorizedError);

  sim.control.failNext({ count: 1, status: 502 });
  await t.rejects(api.listContacts(['email'], undefined, false), CrmUnavailableError, '5xx');

  sim.control.rateLimitNext({ count: 1, retryAfterSeconds: 7 });
  const limited = await api.listContacts(['email'], undefined, false).catch((e: unknown) => e);
  t.type(limited, CrmRateLimitedError);
  t.equal((limited as CrmRateLimitedError).retryAfterMs, 7000, 'Retry-After is honoured');

  const limiter2 = new RollingWindowLimiter();
  const api2 = new HubSpotApi('good', '5150', { ...options, limiter: limiter2 });
  sim.control.rateLimitNext({ count: 1 });
  const noHeader = await api2.listContacts(['email'], undefined, false).catch((e: unknown) => e);
  t.equal((noHeader as CrmRateLimitedError).retryAfterMs, 10_000, 'without Retry-After: the ten-second window');
  t.ok(limiter2.tryAcquire('5150', [{ limit: 100, ms: 10_000 }]) > 9_000, 'and the limiter holds this account back meanwhile');

  // Regression: @hubspot/api-client 13 ignores the configured httpAgent (so our socket timeout)
  // unless call-time middleware options are passed; requests to a stalled HubSpot then hung.
  const impatient = new HubSpotApi('good', '5150', { ...options, timeoutMs: 300 });
  sim.control.setDelay({ ms: 1500 });
  await t.rejects(impatient.listContacts(['email'], undefined, false), CrmUnavailableError, 'a stalled list times out');
  await t.rejects(impatient.searchContacts({ filterGroups: [], sorts: [], limit: 10 }, ['email']), CrmUnavailableError, 'a stalled search too');
  await t.rejects(impatient.accountDetails(), CrmUnavailableError, 'and a stalled verification');
  sim.control.setDelay({ ms: 0 });
  t.ok(seen.some(([e, s]) => e === 'list' && s === 200) && seen.some(([, s]) => s === 429));
});

t.test('the limiter keeps any rolling window under its budget', async (t) => {
  let now = 0;
  const limiter = new RollingWindowLimiter(() => now);
  const windows = [{ limit: 9, ms: 10_000 }];
  const granted: number[] = [];
  for (let step = 0; step < 400; step++) {
    if (limiter.tryAcquire('k', windows) === 0) granted.push(now);
    now += 100; // 40 seconds, a request offered every 100 ms
  }
  for (const at of granted) {
    const inWindow = granted.filter((g) => g > at - 10_000 && g <= at).length;
    t.ok(inWindow <= 9, `at ${at} ms: ${inWindow} in the last 10 s`);
  }
  t.ok(granted.length >= 36, `and uses the budget (${granted.length} granted in 40 s)`);
  t.equal(limiter.tryAcquire('other', windows), 0, 'keys are independent');
  limiter.pause('k2', now + 5000);
  t.equal(limiter.tryAcquire('k2', windows), 5000, 'a pause after a 429 holds the key');
});

t.test('a request that must fit several budgets spends all or none, and a deadline refuses long waits at once', async (t) => {
  let now = 1_000_000;
  const limiter = new RollingWindowLimiter(() => now);
  const account = { key: 'account', windows: [{ limit: 5, ms: 10_000 }] };
  const cap = { key: 'cap', windows: [{ limit: 2, ms: 10_000 }] };
  await limiter.acquireAll([account, cap]);
  await limiter.acquireAll([account, cap]);
  const refused = await limiter.acquireAll([account, cap], now + 5_000).catch((e: unknown) => e);
  t.type(refused, CrmRateLimitedError, 'the cap is spent: a wait past the deadline is refused at once');
  t.equal((refused as CrmRateLimitedError).retryAfterMs, 10_001, 'with how long to wait');
  t.equal(limiter.tryAcquire('account', account.windows), 0, 'the refused request spent nothing of the account');
  t.equal(limiter.tryAcquire('account', account.windows), 0);
  t.equal(limiter.tryAcquire('account', account.windows), 0);
  t.ok(limiter.tryAcquire('account', account.windows) > 0, 'which had exactly its five');

  limiter.pause('token', now + 3_000);
  const paused = await limiter.acquireAll([{ key: 'token', windows: account.windows }], now + 1_000).catch((e: unknown) => e);
  t.equal((paused as CrmRateLimitedError).retryAfterMs, 3_000, 'a pause longer than the deadline is refused at once');
  now += 3_000;
  await limiter.acquireAll([{ key: 'token', windows: account.windows }], now + 1_000);
  t.pass('and passes once it is over');

  // Keys for tokens come and go: after a window with no request they are forgotten.
  for (let i = 0; i < 5_000; i++) limiter.tryAcquire(`token-${i}`, [{ limit: 1, ms: 1_000 }]);
  now += 20_000;
  limiter.tryAcquire('late', [{ limit: 1, ms: 1_000 }]);
  // The sweep runs when the keys have doubled since the last one (amortized), so add as many again.
  for (let i = 0; i < 5_000; i++) limiter.tryAcquire(`again-${i}`, [{ limit: 1, ms: 1_000 }]);
  const { history } = limiter as unknown as { history: Map<string, number[]> };
  t.notOk(history.has('token-0'), 'keys with no request in any window were forgotten');
  t.ok(history.size <= 5_002, `only recent ones are kept (${history.size})`);
});
