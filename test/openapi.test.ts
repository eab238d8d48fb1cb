import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import { SAMPLE_SYNC_REQUEST, SAMPLE_SYNC_RESPONSE } from '../src/sync/examples.js';
import { SyncRequestSchema, SyncResponseSchema } from '../src/sync/schema.js';
import { adminHeaders, buildTestApp } from './helpers/app.js';

t.test('/docs/json is an OpenAPI 3 document of the routes, with the protocol samples on the sync endpoint', async (t) => {
  const h = await buildTestApp(t);
  t.equal((await h.app.inject({ method: 'GET', url: '/docs/json' })).statusCode, 401, 'the admin token is required');
  t.equal((await h.app.inject({ method: 'GET', url: '/docs' })).statusCode, 401);
  const res = await h.app.inject({ method: 'GET', url: '/docs/json', headers: adminHeaders });
  t.equal(res.statusCode, 200);
  const doc = res.json();
  t.match(doc.openapi, /^3\./);
  t.match(doc.info, { title: 'contact-bridge', version: String });

  const sync = doc.paths['/contact_sync']?.post;
  t.ok(sync, 'the sync endpoint is documented');
  t.same(sync.requestBody.content['application/json'].example, SAMPLE_SYNC_REQUEST, 'the sample request');
  t.same(sync.responses['200'].content['application/json'].example, SAMPLE_SYNC_RESPONSE, 'the sample response');
  t.ok(sync.responses['4XX'] ?? sync.responses['4xx'], 'error answers too');
  t.same(sync.tags, ['talkdesk']);

  t.ok(doc.paths['/auth_validation']?.post, 'auth validation');
  t.ok(doc.paths['/admin/tenants']?.post, 'the admin API');
  t.same(doc.paths['/admin/tenants'].post.security, [{ adminToken: [] }], 'admin calls name their bearer token');
  for (const path of ['/healthz', '/readyz', '/metrics']) t.ok(doc.paths[path]?.get, `${path} is documented`);
  t.notOk(
    Object.keys(doc.paths).some((p) => p.startsWith('/docs')),
    'the documentation does not document itself',
  );

  const ui = await h.app.inject({ method: 'GET', url: '/docs', headers: adminHeaders });
  t.ok([200, 302].includes(ui.statusCode), 'the UI answers');
});

t.test('the samples are valid against our own schemas', async (t) => {
  t.ok(Value.Check(SyncRequestSchema, SAMPLE_SYNC_REQUEST), 'request');
  t.ok(Value.Check(SyncResponseSchema, SAMPLE_SYNC_RESPONSE), 'response');
});
