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
    timeoutMs: 300,
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
  sim.control.setDelay({ ms: 1500 });
  await t.rejects(api.listContacts(['email'], undefined, false), CrmUnavailableError, 'a stalled list times out');
  await t.rejects(api.searchContacts({ filterGroups: [], sorts: [], limit: 10 }, ['email']), CrmUnavailableError, 'a stalled search too');
  await t.rejects(api.accountDetails(), CrmUnavailableError, 'and a stalled verification');
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
