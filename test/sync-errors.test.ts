import t from 'tap';
import { loadConfig } from '../src/config.js';
import { createDatabase } from '../src/db/client.js';
import { buildRuntime } from '../src/runtime.js';
import { buildTestApp, buildTestRuntime } from './helpers/app.js';
import { syncRun } from './helpers/talkdesk.js';

t.test('every malformed body or token is a 4xx JSON error naming what is wrong', async (t) => {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '2' });
  const auth = { api_key: 'k1' };
  const tenant = await h.createTenant(auth);
  await h.push(tenant, [
    { id: '1', name: 'A' },
    { id: '2', name: 'B' },
    { id: '3', name: 'C' },
  ]);
  const first = await h.sync({ auth, meta: {} });
  const { next_offset: offset, synchronization_checkpoint: checkpoint } = first.body;
  const flip = (token: string, at: number) =>
    token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);

  const cases: Array<[string, unknown, number, RegExp]> = [
    ['no body fields', {}, 400, /auth/],
    ['auth is a string', { auth: 'secret' }, 400, /auth/],
    ['auth is an array', { auth: ['a'] }, 400, /auth/],
    ['auth is null', { auth: null }, 400, /auth/],
    ['meta is a string', { auth, meta: 'x' }, 400, /meta/],
    ['checkpoint is a number-less object', { auth, meta: { synchronization_checkpoint: {} } }, 400, /synchronization_checkpoint/],
    ['offset is an array', { auth, meta: { offset: [] } }, 400, /offset/],
    ['empty checkpoint', { auth, meta: { synchronization_checkpoint: '' } }, 400, /synchronization_checkpoint/],
    ['empty offset', { auth, meta: { offset: '' } }, 400, /offset/],
    ['garbage checkpoint', { auth, meta: { synchronization_checkpoint: 'yesterday' } }, 400, /synchronization_checkpoint/],
    ['impossible date', { auth, meta: { synchronization_checkpoint: '2021-02-30 10:00:00 UTC' } }, 400, /synchronization_checkpoint/],
    ['garbage offset', { auth, meta: { offset: 'v1.abc.def' } }, 400, /offset/],
    ['altered offset', { auth, meta: { offset: flip(offset, 5) } }, 400, /offset/],
    ['altered checkpoint signature', { auth, meta: { synchronization_checkpoint: flip(checkpoint, checkpoint.length - 3) } }, 400, /synchronization_checkpoint/],
    ['a checkpoint passed as offset', { auth, meta: { offset: checkpoint } }, 400, /offset/],
    ['an offset passed as checkpoint', { auth, meta: { synchronization_checkpoint: offset } }, 400, /synchronization_checkpoint/],
    ['huge token', { auth, meta: { offset: 'v1.' + 'a'.repeat(10_000) } }, 400, /offset/],
    ['unknown credentials', { auth: { api_key: 'k2' }, meta: {} }, 401, /credentials/],
    ['empty credentials', { auth: {}, meta: {} }, 401, /credentials/],
  ];
  for (const [what, body, status, message] of cases) {
    const res = await h.sync(body);
    t.equal(res.statusCode, status, what);
    t.match(res.body, { error: String, message }, what);
  }

  const notJson = await h.app.inject({
    method: 'POST',
    url: '/contact_sync',
    headers: { 'content-type': 'application/json' },
    payload: '{"auth": ',
  });
  t.equal(notJson.statusCode, 400, 'a body that is not JSON');
  t.match(notJson.json(), { error: String, message: String });

  const tooBig = await h.app.inject({ method: 'POST', url: '/contact_sync', payload: { auth: { k: 'x'.repeat(2 * 1024 * 1024) } } });
  t.equal(tooBig.statusCode, 413, 'a body over the limit');
  t.match(tooBig.json(), { error: String, message: String });
});

t.test("one tenant's credentials never return another tenant's contacts, even with its tokens", async (t) => {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '2' });
  const authA = { token: 'tenant-a' };
  const authB = { token: 'tenant-b' };
  const a = await h.createTenant(authA);
  const b = await h.createTenant(authB);
  await h.push(a, [{ id: 'a1', name: 'A one' }]);
  await h.push(b, [
    { id: 'b1', name: 'B one' },
    { id: 'b2', name: 'B two' },
    { id: 'b3', name: 'B three' },
  ]);
  const runA = await syncRun(h.sync, authA);
  t.same(runA.contacts.map((c) => c.id), ['a1']);

  const pageB = await h.sync({ auth: authB, meta: {} });
  t.same(pageB.body.contacts.map((c: { id: string }) => c.id), ['b1', 'b2']);
  for (const meta of [
    { offset: pageB.body.next_offset },
    { synchronization_checkpoint: pageB.body.synchronization_checkpoint },
    { synchronization_checkpoint: runA.checkpoint, offset: pageB.body.next_offset },
  ]) {
    const res = await h.sync({ auth: authA, meta });
    t.equal(res.statusCode, 400, `B's token with A's auth: ${Object.keys(meta).join('+')}`);
    t.notMatch(JSON.stringify(res.body), /b[123]/);
  }
  // Key order of auth fields does not matter; their values do.
  const reordered = await h.sync({ auth: { token: 'tenant-a' }, meta: {} });
  t.same(reordered.body.contacts.map((c: { id: string }) => c.id), ['a1']);
});

t.test('tokens from a bridge with another secret are refused', async (t) => {
  const h1 = await buildTestApp(t);
  const auth = { token: 'same-creds' };
  const tenant = await h1.createTenant(auth);
  await h1.push(tenant, [{ id: '1', name: 'One' }]);
  const run = await syncRun(h1.sync, auth);
  // Same database and tenant, different BRIDGE_SECRET: the digest differs, so first re-register.
  const app2 = (await buildTestRuntime(t, h1.database, { ROLE: 'api', CRM: 'none', BRIDGE_SECRET: 'another-secret-another-secret-another' })).app!;
  const admin = { authorization: `Bearer ${h1.config.ADMIN_TOKEN}` };
  const created = await app2.inject({ method: 'POST', url: '/admin/tenants', headers: admin, payload: { name: 'x', auth } });
  t.equal(created.statusCode, 201);
  const res = await app2.inject({ method: 'POST', url: '/contact_sync', payload: { auth, meta: { synchronization_checkpoint: run.checkpoint } } });
  t.equal(res.statusCode, 400);
  t.equal(res.json().error, 'INVALID_CHECKPOINT');
});

t.test('a database outage is a 503 JSON answer with Retry-After, never a hang or a stack trace', async (t) => {
  // A pool pointed at a port where nothing listens stands for PostgreSQL being down.
  const database = createDatabase({ url: 'postgres://bridge:bridge@127.0.0.1:1/none', max: 1 });
  t.teardown(() => database.close());
  const config = loadConfig({
    DATABASE_URL: 'postgres://bridge:bridge@127.0.0.1:1/none',
    REDIS_URL: 'redis://127.0.0.1:6379',
    BRIDGE_SECRET: 'outage-secret-outage-secret-outage-secret',
    ADMIN_TOKEN: 'outage-admin-token-123',
    ROLE: 'api',
    CRM: 'none',
    LOG_LEVEL: 'silent',
  });
  const runtime = await buildRuntime(config, { database });
  t.teardown(() => runtime.close());
  const app = runtime.app!;
  const res = await app.inject({ method: 'POST', url: '/contact_sync', payload: { auth: { token: 'x' }, meta: {} } });
  t.equal(res.statusCode, 503);
  t.equal(res.headers['retry-after'], '5');
  t.same(res.json(), { error: 'DATABASE_UNAVAILABLE', message: 'the contact mirror is unavailable; retry shortly' });
});
