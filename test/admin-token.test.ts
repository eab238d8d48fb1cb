import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import t, { type Test } from 'tap';
import { ADMIN_TOKEN, buildTestApp } from './helpers/app.js';

const METRICS_TOKEN = 'metrics-token-0123456789';

/**
 * Records the byte lengths of every crypto.timingSafeEqual call. syncBuiltinESMExports makes the
 * replacement visible to modules that imported the function by name, as the guards do.
 */
function recordComparisons(t: Test) {
  const original = crypto.timingSafeEqual;
  const calls: Array<[number, number]> = [];
  crypto.timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    calls.push([a.byteLength, b.byteLength]);
    return original(a, b);
  };
  syncBuiltinESMExports();
  t.teardown(() => {
    crypto.timingSafeEqual = original;
    syncBuiltinESMExports();
  });
  return calls;
}

// Wrong tokens of every interesting length: empty-ish, shorter, one short, equal, one long,
// a prefix of the real one, the real one with its last character changed, and far longer.
const wrongTokens = (real: string) => [
  'x',
  real.slice(0, 1),
  real.slice(0, real.length - 1),
  `${real.slice(0, -1)}${real.endsWith('0') ? '1' : '0'}`,
  'y'.repeat(real.length),
  `${real}x`,
  `${real}${real}`,
  'z'.repeat(4096),
];

const guards: Array<{ what: string; env: Record<string, string>; token: string; method: 'GET'; url: string; code: string }> = [
  { what: 'the admin API', env: {}, token: ADMIN_TOKEN, method: 'GET', url: '/admin/tenants', code: 'ADMIN_UNAUTHORIZED' },
  { what: '/metrics', env: { METRICS_TOKEN }, token: METRICS_TOKEN, method: 'GET', url: '/metrics', code: 'METRICS_UNAUTHORIZED' },
];
for (const guard of guards) {
  t.test(`${guard.what}: a wrong token of any length is a 401, compared in full whatever its length`, async (t) => {
    const h = await buildTestApp(t, guard.env);
    const calls = recordComparisons(t);
    const call = (authorization: string | undefined) =>
      h.app.inject({ method: guard.method, url: guard.url, headers: authorization === undefined ? {} : { authorization } });

    for (const header of [undefined, '', 'Bearer ', 'Bearer', guard.token]) {
      const res = await call(header);
      t.equal(res.statusCode, 401, `header ${JSON.stringify(header)?.slice(0, 40)}`);
      t.equal(res.json().error, guard.code);
    }
    for (const wrong of wrongTokens(guard.token)) {
      calls.length = 0;
      const res = await call(`Bearer ${wrong}`);
      t.equal(res.statusCode, 401, `a wrong token of ${wrong.length} characters`);
      t.same(res.json(), { error: guard.code, message: String(res.json().message) }, 'a JSON error');
      // One comparison of two SHA-256 digests: the same work for a token of any length, so the
      // answer's timing cannot tell how long the real token is or how much of it was right.
      t.same(calls, [[32, 32]], `compared as equal-length digests (${wrong.length} characters)`);
    }
    calls.length = 0;
    t.equal((await call(`Bearer ${guard.token}`)).statusCode, 200, 'the right token passes');
    t.same(calls, [[32, 32]], 'through the same comparison');
  });
}

t.test('the admin token as a basic-auth password is compared the same way', async (t) => {
  const h = await buildTestApp(t);
  const calls = recordComparisons(t);
  const basic = (password: string) => `Basic ${Buffer.from(`operator:${password}`).toString('base64')}`;
  for (const wrong of wrongTokens(ADMIN_TOKEN)) {
    calls.length = 0;
    const res = await h.app.inject({ method: 'GET', url: '/admin/tenants', headers: { authorization: basic(wrong) } });
    t.equal(res.statusCode, 401, `a wrong password of ${wrong.length} characters`);
    t.same(calls, [[32, 32]]);
  }
});
