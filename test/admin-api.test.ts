import t from 'tap';
import { ADMIN_TOKEN, buildTestApp } from './helpers/app.js';
import { syncRun } from './helpers/talkdesk.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

t.test('the admin API refuses calls without the bearer token', async (t) => {
  const h = await buildTestApp(t);
  for (const headers of [{}, { authorization: 'Bearer wrong-token-wrong-token' }, { authorization: ADMIN_TOKEN }]) {
    const res = await h.app.inject({ method: 'POST', url: '/admin/tenants', headers, payload: { name: 'x', auth: { a: 1 } } });
    t.equal(res.statusCode, 401);
    t.equal(res.json().error, 'ADMIN_UNAUTHORIZED');
    t.match(res.headers['www-authenticate'], /^Basic realm/);
  }
  const list = await h.app.inject({ method: 'PUT', url: '/admin/tenants/00000000-0000-0000-0000-000000000000/contacts', payload: [] });
  t.equal(list.statusCode, 401, 'on every admin route');
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const ok = await h.app.inject({ method: 'POST', url: '/admin/tenants', headers: { authorization: basic('anyone', ADMIN_TOKEN) }, payload: { name: 'b', auth: { b: 1 } } });
  t.equal(ok.statusCode, 201, 'basic auth with the token as password is accepted');
  const wrong = await h.app.inject({ method: 'POST', url: '/admin/tenants', headers: { authorization: basic(ADMIN_TOKEN, 'x') }, payload: { name: 'b', auth: { b: 2 } } });
  t.equal(wrong.statusCode, 401, 'the token as user name is not');
});

t.test('with ADMIN_TOKEN unset the admin API refuses every call', async (t) => {
  const h = await buildTestApp(t, { ADMIN_TOKEN: '' });
  const res = await h.app.inject({ method: 'POST', url: '/admin/tenants', headers: admin, payload: { name: 'x', auth: { a: 1 } } });
  t.equal(res.statusCode, 403);
  t.equal(res.json().error, 'ADMIN_DISABLED');
});

t.test('registering a tenant', async (t) => {
  const h = await buildTestApp(t);
  const created = await h.app.inject({ method: 'POST', url: '/admin/tenants', headers: admin, payload: { name: 'Acme', auth: { user: 'u', password: 'p' } } });
  t.equal(created.statusCode, 201);
  t.match(created.json(), { id: /^[0-9a-f-]{36}$/ });

  const again = await h.app.inject({ method: 'POST', url: '/admin/tenants', headers: admin, payload: { name: 'Acme 2', auth: { password: 'p', user: 'u' } } });
  t.equal(again.statusCode, 409, 'the same auth object, in any key order, is already registered');
  t.equal(again.json().error, 'DUPLICATE_CREDENTIALS');

  for (const payload of [{ name: 'x' }, { auth: { a: 1 } }, { name: '', auth: { a: 1 } }, { name: 'x', auth: 'a' }]) {
    const res = await h.app.inject({ method: 'POST', url: '/admin/tenants', headers: admin, payload });
    t.equal(res.statusCode, 400, JSON.stringify(payload));
    t.match(res.json(), { error: 'INVALID_REQUEST', message: String });
  }
});

t.test('pushing contacts', async (t) => {
  const h = await buildTestApp(t);
  const auth = { token: 'push' };
  const tenant = await h.createTenant(auth);
  const put = (payload: unknown, id = tenant) =>
    h.app.inject({ method: 'PUT', url: `/admin/tenants/${id}/contacts`, headers: admin, payload: payload as object });

  const first = await put([{ id: '1', name: 'One' }, { id: '2', name: 'Two' }, { id: '3', name: 'Three' }]);
  t.equal(first.statusCode, 200);
  t.same(first.json(), { inserted: 3, updated: 0, unchanged: 0, deleted: 0 });

  const mixed = await put([{ id: '1', name: 'One' }, { id: '2', name: 'Two!' }, { id: '3', deleted: true }, { id: '4', name: 'Four' }]);
  t.same(mixed.json(), { inserted: 1, updated: 1, unchanged: 1, deleted: 1 });

  const bad = await put([{ id: '5', name: 'Five' }, { id: '6', name: 'Six', emails: 'six@example.com' }]);
  t.equal(bad.statusCode, 400);
  t.match(bad.json(), { error: 'INVALID_CONTACT', index: 1, message: /item 1: emails/ });
  const badCases: Array<[unknown, number, RegExp]> = [
    [[{ id: '7' }], 0, /name/],
    [[{ name: 'no id' }], 0, /id/],
    [[{ id: '', name: 'empty id' }], 0, /id/],
    [[{ id: '7', name: '   ' }], 0, /blank/],
    [[{ id: '7', name: 'x' }, 'a string'], 1, /item 1/],
    [[{ id: '7', name: 'x', extra: 1 }], 0, /extra|propert/],
    [[{ id: '7', deleted: false }], 0, /deleted/],
    [[{ id: '7', name: 'nul \u0000 byte' }], 0, /name/],
  ];
  for (const [payload, index, message] of badCases) {
    const res = await put(payload);
    t.equal(res.statusCode, 400, JSON.stringify(payload));
    t.match(res.json(), { error: 'INVALID_CONTACT', index, message }, JSON.stringify(payload));
  }
  const notArray = await put({ id: '1', name: 'x' });
  t.equal(notArray.statusCode, 400);
  const tooMany = await put(Array.from({ length: 10_001 }, (_, i) => ({ id: String(i), name: 'x' })));
  t.equal(tooMany.statusCode, 400, 'more than 10,000 items');

  const run = await syncRun(h.sync, auth);
  t.same(
    run.contacts.map((c) => [c.id, c.name]),
    [
      ['1', 'One'],
      ['2', 'Two!'],
      ['4', 'Four'],
    ],
    'nothing of a rejected batch was written',
  );

  const unknown = await put([{ id: '1', name: 'x' }], '00000000-0000-0000-0000-000000000000');
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().error, 'TENANT_NOT_FOUND');
  const notUuid = await put([{ id: '1', name: 'x' }], 'not-a-uuid');
  t.equal(notUuid.statusCode, 400);
});

t.test('a batch of 10,000 real-sized contacts fits the route limit', async (t) => {
  const h = await buildTestApp(t);
  const tenant = await h.createTenant({ token: 'big' });
  const batch = Array.from({ length: 10_000 }, (_, i) => ({
    id: `id-${i}`,
    name: `Firstname${i} Lastname${i}`,
    company: `Company number ${i % 977} International Holdings`,
    title: 'Senior Vice President of Customer Success',
    emails: [`first.last${i}@example-company-${i % 977}.com`, `f${i}@personal-mail.example.org`],
    phones: [`+1415555${String(i % 10000).padStart(4, '0')}`, `+4420794${String(i % 100000).padStart(5, '0')}`],
    address: `${i} Long Street Name Avenue, Suite ${i % 400}, San Francisco, CA 94107, United States`,
    websites: [`https://www.example-company-${i % 977}.com/about/team/${i}`],
    twitter: `handle_${i}`,
    url: `https://crm.example.com/contacts/${i}/view`,
    photo_url: `https://cdn.example.com/photos/${i}.jpg`,
  }));
  const size = Buffer.byteLength(JSON.stringify(batch));
  t.ok(size > 1024 * 1024, `the batch is ${(size / 1e6).toFixed(1)} MB, over the default body limit`);
  t.same(await h.push(tenant, batch), { inserted: 10_000, updated: 0, unchanged: 0, deleted: 0 });
  const huge = await h.app.inject({
    method: 'PUT',
    url: `/admin/tenants/${tenant}/contacts`,
    headers: { ...admin, 'content-type': 'application/json' },
    payload: `[${'"x",'.repeat(8 * 1024 * 1024)}"x"]`,
  });
  t.equal(huge.statusCode, 413, 'a body over 32 MiB');
});

t.test('deleting one contact', async (t) => {
  const h = await buildTestApp(t);
  const auth = { token: 'delete' };
  const tenant = await h.createTenant(auth);
  await h.push(tenant, [{ id: 'keep', name: 'Keep' }, { id: 'drop/me', name: 'Drop' }]);
  const del = (contactId: string, id = tenant) =>
    h.app.inject({ method: 'DELETE', url: `/admin/tenants/${id}/contacts/${encodeURIComponent(contactId)}`, headers: admin });

  const res = await del('drop/me');
  t.equal(res.statusCode, 204);
  t.equal(res.body, '');
  t.equal((await del('drop/me')).statusCode, 404, 'already deleted');
  t.equal((await del('never-existed')).json().error, 'CONTACT_NOT_FOUND');
  t.equal((await del('keep', '00000000-0000-0000-0000-000000000000')).statusCode, 404);
  const run = await syncRun(h.sync, auth);
  t.same(run.contacts.map((c) => c.id), ['keep']);
});
