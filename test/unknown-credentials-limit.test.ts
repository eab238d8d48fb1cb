import t from 'tap';
import { buildTestApp } from './helpers/app.js';

// The bridge with no CRM connector: every tenant is pushed, so an unknown `auth` is only ever a
// guess, and guessing costs one request. The HubSpot onboarding path is covered in
// ingest-onboarding.test.ts.

t.test('guesses are limited per client; a known tenant is never limited, however busy', async (t) => {
  const h = await buildTestApp(t);
  const known = { api_key: 'k-known' };
  await h.createTenant(known);
  const from = (remoteAddress: string, auth: unknown) =>
    h.app.inject({ method: 'POST', url: h.config.SYNC_PATH, remoteAddress, payload: { auth, meta: {} } });

  const guesses: number[] = [];
  for (let i = 0; i < 31; i++) guesses.push((await from('203.0.113.7', { api_key: `k-${i}` })).statusCode);
  t.same(guesses, [...Array(30).fill(401), 429]);
  const limited = await from('203.0.113.7', { api_key: 'k-another' });
  t.match(limited.json(), { error: 'TOO_MANY_ATTEMPTS', message: /retry in \d+ s/ });
  t.match(limited.headers['retry-after'], /^\d+$/);

  const busy = await Promise.all(Array.from({ length: 200 }, () => from('203.0.113.7', known)));
  t.same(new Set(busy.map((r) => r.statusCode)), new Set([200]), 'two hundred requests with known credentials, none limited');
  t.equal((await from('203.0.113.8', { api_key: 'k-x' })).statusCode, 401, 'a neighbouring address is another client');
});

t.test('IPv6 clients are counted per /64, since one host holds a whole /64', async (t) => {
  const h = await buildTestApp(t);
  const from = (remoteAddress: string) =>
    h.app.inject({ method: 'POST', url: '/auth_validation', remoteAddress, payload: { auth: { api_key: remoteAddress } } });
  for (let i = 0; i < 30; i++) t.equal((await from(`2001:db8:0:1::${(i + 1).toString(16)}`)).statusCode, 401);
  t.equal((await from('2001:db8:0:1:ffff::1')).statusCode, 429, 'another address of the same /64');
  t.equal((await from('2001:db8:0:2::1')).statusCode, 401, 'another /64');
});
