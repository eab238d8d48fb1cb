import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.js';
import { buildTestApp } from './helpers/app.js';

// Regression: behind a proxy every caller is one IP (issue 13). The unknown-credentials limit
// counts per client address, and behind a proxy that address was the proxy's for everyone: 30
// junk requests a minute from anyone locked out every new customer's onboarding.

const PROXY = '192.0.2.10';
const A = '203.0.113.7';
const B = '203.0.113.8';
const LIMIT = 30;

t.test('behind a trusted proxy, junk from one client locks out that client and no other', async (t) => {
  const h = await buildTestApp(t, { TRUST_PROXY: `${PROXY},198.51.100.0/24` });
  await h.createTenant({ api_key: 'k-known' });
  const viaProxy = (forwardedFor: string, auth: unknown) =>
    h.app.inject({ method: 'POST', url: h.config.SYNC_PATH, remoteAddress: PROXY, headers: { 'x-forwarded-for': forwardedFor }, payload: { auth, meta: {} } });

  const junk: number[] = [];
  for (let i = 0; i <= LIMIT; i++) junk.push((await viaProxy(A, { api_key: `junk-${i}` })).statusCode);
  t.same(junk, [...Array(LIMIT).fill(401), 429], `client A is limited after ${LIMIT} unknown credentials`);

  t.equal((await viaProxy(B, { api_key: 'new-customer' })).statusCode, 401, 'client B, through the same proxy, still has its budget');
  t.equal((await viaProxy(A, { api_key: 'k-known' })).statusCode, 200, 'known credentials are never limited, even from A');
  // A cannot spend B's budget by claiming to be B: the proxy appends the address it saw.
  t.equal((await viaProxy(`${B}, ${A}`, { api_key: 'junk-spoofed' })).statusCode, 429, "A claiming to be B is still A");
  t.equal((await viaProxy(B, { api_key: 'new-customer-2' })).statusCode, 401, 'and B is untouched');
  // A chain of proxies that are all trusted: the client is the first untrusted address from the right.
  t.equal((await viaProxy(`${A}, 198.51.100.20`, { api_key: 'junk-two-hops' })).statusCode, 429, 'through two trusted hops, A is still A');
});

t.test("an untrusted peer's X-Forwarded-For is ignored", async (t) => {
  const h = await buildTestApp(t, { TRUST_PROXY: PROXY });
  const attacker = '203.0.113.50';
  const direct = (forwardedFor: string, i: number) =>
    h.app.inject({ method: 'POST', url: '/auth_validation', remoteAddress: attacker, headers: { 'x-forwarded-for': forwardedFor }, payload: { auth: { api_key: `junk-${i}` } } });

  const answers: number[] = [];
  // A fresh made-up client address on every request: were it believed, the limit would never bite.
  for (let i = 0; i <= LIMIT; i++) answers.push((await direct(`198.51.100.${i + 1}`, i)).statusCode);
  t.same(answers, [...Array(LIMIT).fill(401), 429], 'counted against the peer, whatever it claims');
});

t.test('TRUST_PROXY must name the proxies: "trust everyone" is refused at start-up, naming the variable', async (t) => {
  const base = { DATABASE_URL: 'postgres://x', REDIS_URL: 'redis://x', BRIDGE_SECRET: 'trust-secret-trust-secret-trust-secret-0' };
  for (const value of ['true', '*', 'all', '1', '2', '0.0.0.0/0', '::/0', 'loopback', 'proxy.example.com', '10.0.0.1/33', '10.0.0.1,', '10.0.0.1/8/2']) {
    t.throws(() => loadConfig({ ...base, TRUST_PROXY: value }), { name: 'ConfigError', message: /^invalid configuration: TRUST_PROXY / }, JSON.stringify(value));
  }
  try {
    loadConfig({ ...base, TRUST_PROXY: 'true' });
  } catch (err) {
    t.ok(err instanceof ConfigError);
    t.match((err as Error).message, /would let any client choose its own address/, 'says why');
  }
  t.equal(loadConfig({ ...base, TRUST_PROXY: '10.0.0.1, 10.1.0.0/16,fd00::/8 , ::1' }).TRUST_PROXY, '10.0.0.1, 10.1.0.0/16,fd00::/8 , ::1');
  t.equal(loadConfig(base).TRUST_PROXY, undefined, 'unset by default: the socket peer is the client');
});
