import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTestApp } from './helpers/app.js';
import { httpSyncCall, injectSyncCall, runSync, SyncAnswerError, SyncHttpError, type SyncCall } from '../src/cli/talkdesk-client.js';
import { FROM_SOURCE } from '../harness/from-source.js';

// The command as `npm run sync` runs it, from source, with this process's TypeScript loader.
const command = fileURLToPath(new URL('../src/cli/sync.ts', import.meta.url));
async function runCommand(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...FROM_SOURCE, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

const contacts = (from: number, to: number, suffix = '') =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ id: String(from + i), name: `Contact ${from + i}${suffix}`, phones: [`+1555000${1000 + from + i}`] }));

t.test('the sync client, as a function and as a command', async (t) => {
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '10' });
  const auth = { access_token: 'cli-token' };
  const tenant = await h.createTenant(auth);
  await h.push(tenant, contacts(1, 25));
  const address = await h.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `${address}${h.config.SYNC_PATH}`;
  const call = httpSyncCall(url);

  t.test('runSync: a full run, then an incremental one', async (t) => {
    const progress: Array<{ page: number; count: number; total: number }> = [];
    const full = await runSync(call, { auth, onPage: (p) => progress.push({ page: p.page, count: p.contacts.length, total: p.total }) });
    t.equal(full.pages, 3);
    t.equal(full.contacts.length, 25);
    t.equal(new Set(full.contacts.map((c) => c.id)).size, 25, 'no contact twice');
    t.type(full.checkpoint, 'string', 'the last page carries a checkpoint');
    t.type(full.seconds, 'number');
    t.same(progress, [
      { page: 1, count: 10, total: 10 },
      { page: 2, count: 10, total: 20 },
      { page: 3, count: 5, total: 25 },
    ]);

    await h.push(tenant, [{ id: '7', name: 'Seven, edited' }, { id: '19', name: 'Nineteen, edited' }]);
    const inc = await runSync(call, { auth, checkpoint: full.checkpoint! });
    t.equal(inc.pages, 1);
    // One batch shares a timestamp, so the bridge orders it by id (as text).
    t.same(inc.contacts.map((c) => [c.id, c.name]), [['19', 'Nineteen, edited'], ['7', 'Seven, edited']], 'exactly the 2 edits');
    t.type(inc.checkpoint, 'string');
    t.not(inc.checkpoint, full.checkpoint, 'the checkpoint moved forward');

    const none = await runSync(call, { auth, checkpoint: inc.checkpoint! });
    t.same(none.contacts, [], 'nothing is delivered twice');
  });

  t.test('runSync: an error answer throws with its status and JSON body', async (t) => {
    const err = await runSync(call, { auth: { access_token: 'nobody' } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof SyncHttpError);
    t.match(err, { status: 401, page: 1, body: { error: 'UNKNOWN_CREDENTIALS' } });
    const bad = await runSync(call, { auth, checkpoint: 'v1.not-a-token' }).then(() => undefined, (e: unknown) => e);
    t.match(bad, { status: 400, body: { error: String } });
  });

  t.test('injectSyncCall: the same run in-process, through app.inject', async (t) => {
    const overHttp = await runSync(call, { auth });
    const inProcess = await runSync(injectSyncCall(h.app, h.config.SYNC_PATH), { auth });
    t.equal(inProcess.pages, 3);
    t.same(inProcess.contacts, overHttp.contacts);
  });

  t.test('keepContacts: false counts the contacts without gathering them', async (t) => {
    const counted = await runSync(call, { auth, keepContacts: false });
    t.same(counted.contacts, []);
    t.equal(counted.total, 25);
    t.type(counted.checkpoint, 'string');
  });

  t.test('runSync: a 200 that is not a page throws SyncAnswerError', async (t) => {
    const answering = (body: unknown): SyncCall => async () => ({ statusCode: 200, headers: {}, body });
    await t.rejects(runSync(answering('<html>'), { auth }), new SyncAnswerError('sync page 1: HTTP 200 without a contacts array: <html>'));
    await t.rejects(runSync(answering({ contacts: [], next_offset: 5 }), { auth }), { name: 'SyncAnswerError', message: /next_offset is not a string/ });
    await t.rejects(runSync(call, { auth, pageSize: 5 }), { name: 'SyncAnswerError', message: /10 contacts, more than a page of 5/ });
  });

  t.test('the command: --out, progress and summary', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sync-cli-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'contacts.ndjson');
    const r = await runCommand(['--url', url, '--auth', JSON.stringify(auth), '--out', out]);
    t.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    t.equal(lines.length, 1, 'the summary is one line');
    const summary = JSON.parse(lines[0]!);
    t.match(summary, { pages: 3, contacts: 25, seconds: Number, checkpoint: String });
    t.same(Object.keys(summary), ['pages', 'contacts', 'seconds', 'checkpoint']);
    const progress = r.stderr.trim().split('\n');
    t.equal(progress.length, 3);
    t.match(progress[0], /^page 1: 10 contacts \(10 so far\), \d+\.\d\d s$/);
    t.match(progress[2], /^page 3: 5 contacts \(25 so far\), \d+\.\d\d s$/);
    const ndjson = readFileSync(out, 'utf8').trimEnd().split('\n');
    t.equal(ndjson.length, 25);
    t.same(ndjson.map((l) => JSON.parse(l).id).sort(), contacts(1, 25).map((c) => c.id).sort());

    const inc = await runCommand(['--url', url, '--auth', JSON.stringify(auth), '--checkpoint', summary.checkpoint, '--quiet']);
    t.equal(inc.code, 0, inc.stderr);
    t.equal(inc.stderr, '', '--quiet: no progress');
    t.match(JSON.parse(inc.stdout), { pages: 1, contacts: 0, checkpoint: summary.checkpoint });
  });

  t.test('the command: bad arguments and HTTP errors exit 1 with a clear message', async (t) => {
    const badAuth = await runCommand(['--url', url, '--auth', '{not json']);
    t.equal(badAuth.code, 1);
    t.match(badAuth.stderr, /--auth/);
    t.equal(badAuth.stdout, '');

    const arrayAuth = await runCommand(['--url', url, '--auth', '[1]']);
    t.equal(arrayAuth.code, 1);
    t.match(arrayAuth.stderr, /--auth must be a JSON object/);

    const noUrl = await runCommand(['--auth', '{}']);
    t.equal(noUrl.code, 1);
    t.match(noUrl.stderr, /--url is required/);

    const unknown = await runCommand(['--url', url, '--auth', '{}', '--bogus']);
    t.equal(unknown.code, 1);
    t.match(unknown.stderr, /--bogus/);

    const denied = await runCommand(['--url', url, '--auth', '{"access_token":"nobody"}']);
    t.equal(denied.code, 1);
    t.match(denied.stderr, /HTTP 401/);
    t.match(denied.stderr, /UNKNOWN_CREDENTIALS/);
    t.equal(denied.stdout, '');

    const help = await runCommand(['--help']);
    t.equal(help.code, 0);
    t.match(help.stdout, /--checkpoint TOKEN/);
  });

});
