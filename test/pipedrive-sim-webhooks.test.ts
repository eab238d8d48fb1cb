import { createServer, type IncomingHttpHeaders } from 'node:http';
import t, { type Test } from 'tap';
import { v1 } from 'pipedrive';
import { buildPipedriveSim, type PipedriveSimOptions } from '../harness/pipedrive-sim/server.js';
import type { PipedriveWebhookBody } from '../harness/pipedrive-sim/webhooks.js';

async function startSim(t: Test, options: PipedriveSimOptions) {
  const sim = await buildPipedriveSim(options);
  await sim.app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => sim.app.close());
  return { ...sim, url: `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}` };
}

/** A receiver that records what it is sent and answers `status()`. */
async function receiver(t: Test, status: () => number = () => 200) {
  const got: Array<{ headers: IncomingHttpHeaders; body: PipedriveWebhookBody }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as PipedriveWebhookBody });
      res.statusCode = status();
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { got, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook` };
}

const webhooksApi = (url: string, token: string) => new v1.WebhooksApi(new v1.Configuration({ apiKey: token, basePath: `${url}/v1` }));

t.test('the official client subscribes, lists and deletes v2 person webhooks; events arrive with the basic auth', async (t) => {
  const sim = await startSim(t, { companies: [{ companyId: 5, domain: 'acme', tokens: ['tok'] }] });
  const rx = await receiver(t);
  const api = webhooksApi(sim.url, 'tok');
  const added = await api.addWebhook({
    AddWebhookRequest: {
      subscription_url: rx.url,
      event_action: '*',
      event_object: 'person',
      name: 'bridge',
      version: '2.0',
      http_auth_user: 'u-1',
      http_auth_password: 'p-1',
    },
  });
  t.match(added, { success: true, data: { event_action: '*', event_object: 'person', version: '2.0', subscription_url: rx.url, company_id: 5, is_active: 1 } });
  const listed = await api.getWebhooks();
  t.same(
    listed.data!.map((w) => w.id),
    [added.data!.id],
  );

  const [p] = sim.control.createPersons([{ name: 'Ann', emails: [{ value: 'ann@x.example', primary: true, label: 'work' }] }]);
  sim.control.editPerson(p!.id, { name: 'Ann B' });
  const [q] = sim.control.createPersons([{ name: 'Other' }]);
  sim.control.mergePersons(q!.id, p!.id);
  const [r] = sim.control.createPersons([{ name: 'Gone' }]);
  sim.control.deletePerson(r!.id);
  await sim.control.webhooks.settled();

  const auth = `Basic ${Buffer.from('u-1:p-1').toString('base64')}`;
  t.ok(
    rx.got.every((g) => g.headers.authorization === auth),
    'every delivery carries the subscription’s basic credentials',
  );
  const seen = rx.got.map((g) => [g.body.meta.action, g.body.meta.entity_id, g.body.meta.merged_to_id]);
  t.same(seen, [
    ['create', String(p!.id), undefined],
    ['change', String(p!.id), undefined],
    ['create', String(q!.id), undefined],
    ['change', String(p!.id), undefined],
    ['delete', String(q!.id), String(p!.id)],
    ['create', String(r!.id), undefined],
    ['delete', String(r!.id), undefined],
  ]);
  const change = rx.got[1]!.body;
  t.match(change, { data: { id: p!.id, name: 'Ann B' }, previous: { name: 'Ann' }, meta: { entity: 'person', version: '2.0', company_id: '5', host: 'acme.pipedrive.com', attempt: 1 } });
  t.notOk('emails' in change.previous!, 'a change’s previous holds only the changed fields');
  t.match(rx.got[6]!.body, { data: null, previous: { id: r!.id, name: 'Gone' } });
  t.ok(Number.isFinite(Date.parse(change.meta.timestamp)));

  await api.deleteWebhook({ id: added.data!.id! });
  sim.control.createPersons([{ name: 'After' }]);
  await sim.control.webhooks.settled();
  t.equal(rx.got.length, 7, 'a deleted webhook hears nothing more');
  const gone = await api.deleteWebhook({ id: added.data!.id! }).catch((e: unknown) => e);
  t.match(gone, { success: false, errorCode: 404 });
});

t.test('subscriptions are validated as Pipedrive does, and are a company’s own', async (t) => {
  const sim = await startSim(t, { companies: [{ companyId: 5, tokens: ['tok'] }, { companyId: 6, tokens: ['other'] }] });
  const api = webhooksApi(sim.url, 'tok');
  const bad = await api
    .addWebhook({ AddWebhookRequest: { subscription_url: 'not a url', event_action: '*', event_object: 'person', name: 'x', version: '2.0' } })
    .catch((e: unknown) => e);
  t.match(bad, { success: false, errorCode: 400, error: /subscription_url/ });
  const ok = await api.addWebhook({ AddWebhookRequest: { subscription_url: 'http://127.0.0.1:9/x', event_action: 'delete', event_object: 'person', name: 'x', version: '2.0' } });
  const foreign = await webhooksApi(sim.url, 'other')
    .deleteWebhook({ id: ok.data!.id! })
    .catch((e: unknown) => e);
  t.match(foreign, { success: false, errorCode: 404 }, 'another company’s webhook is not found');
  t.same((await webhooksApi(sim.url, 'other').getWebhooks()).data, []);
  const unauth = await webhooksApi(sim.url, 'nope')
    .getWebhooks()
    .catch((e: unknown) => e);
  t.match(unauth, { success: false, errorCode: 401 });
});

t.test('faults: dropped, duplicated, reordered deliveries, and retries of failed ones', async (t) => {
  const sim = await startSim(t, { companies: [{ companyId: 5, tokens: ['tok'] }], webhooks: { retryDelayMs: 10, maxAttempts: 3 } });
  let fail = 1;
  const rx = await receiver(t, () => (fail-- > 0 ? 503 : 200));
  await webhooksApi(sim.url, 'tok').addWebhook({ AddWebhookRequest: { subscription_url: rx.url, event_action: '*', event_object: 'person', name: 'x', version: '2.0' } });

  sim.control.createPersons([{ name: 'retried' }]);
  await sim.control.webhooks.settled();
  t.same(
    rx.got.map((g) => g.body.meta.attempt),
    [1, 2],
    'a 503 is retried, attempt counting up',
  );

  rx.got.length = 0;
  sim.control.webhooks.setFaults({ dropNext: 1, duplicateNext: 1 });
  sim.control.createPersons([{ name: 'dropped' }, { name: 'twice' }, { name: 'once' }]);
  await sim.control.webhooks.settled();
  t.same(
    rx.got.map((g) => g.body.data?.name),
    ['twice', 'twice', 'once'],
  );
  t.match(sim.control.webhooks.stats(), { dropped: 1, duplicated: 1 });

  rx.got.length = 0;
  sim.control.webhooks.setFaults({ reorder: true, delayMs: 30 });
  sim.control.createPersons(Array.from({ length: 20 }, (_, i) => ({ name: `p${i}` })));
  await sim.control.webhooks.settled();
  const names = rx.got.map((g) => g.body.data?.name);
  t.equal(names.length, 20);
  t.notSame(names, Array.from({ length: 20 }, (_, i) => `p${i}`), 'reordered');
});
