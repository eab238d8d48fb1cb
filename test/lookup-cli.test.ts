import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN, buildTestApp } from './helpers/app.js';
import { FROM_SOURCE } from '../harness/from-source.js';
import { syncRun } from './helpers/talkdesk.js';

// The command as `npm run lookup` runs it, from source, with this process's TypeScript loader.
const command = fileURLToPath(new URL('../src/cli/lookup.ts', import.meta.url));
async function lookup(args: string[], env: Record<string, string | undefined> = { ADMIN_TOKEN }) {
  const child = spawn(process.execPath, [...FROM_SOURCE, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

t.test('npm run lookup prints the verdicts of the contacts a phone, email or name finds', async (t) => {
  const h = await buildTestApp(t);
  const auth = { api_key: 'lookup-cli' };
  const tenant = await h.createTenant(auth, 'CLI tenant');
  await h.push(tenant, [
    { id: 'short', name: 'Short Number', phones: ['555-0142'] },
    { id: 'ny', name: 'Zoë Adams', phones: ['+12125550142'], emails: ['zoe@example.com'] },
  ]);
  const full = await syncRun(h.sync, auth);
  await syncRun(h.sync, auth, full.checkpoint);
  const url = await h.app.listen({ port: 0, host: '127.0.0.1' });

  const byPhone = await lookup(['--url', url, '--tenant', tenant, '--phone', '+1 (212) 555-0142']);
  t.equal(byPhone.code, 0, byPhone.stderr);
  t.match(byPhone.stdout, 'Zoë Adams  [id ny]');
  t.match(byPhone.stdout, 'phone  +12125550142  →  +12125550142');
  t.match(byPhone.stdout, /copy {3}ok api_key .*: confirmed/);
  t.match(byPhone.stdout, 'Short Number  [id short]', 'the number stored without its area code');
  t.match(byPhone.stdout, "- this number is stored as '555-0142' and does not parse as a phone in region US; Talkdesk may not match it");
  t.match(byPhone.stdout, /timeline\n {4}\d{4}-\d\d-\d\dT[\d:.]+Z {2}admin_push name, emails, phones/, 'its timeline');

  const byName = await lookup(['--url', url, '--tenant', tenant, '--q', 'ZOE', '--json'], { ADMIN_TOKEN, BRIDGE_URL: 'http://127.0.0.1:1' });
  t.equal(byName.code, 0, byName.stderr);
  t.same(JSON.parse(byName.stdout).contacts.map((c: { id: string }) => c.id), ['ny'], '--url wins over BRIDGE_URL; --json is the API answer');
  const byEmail = await lookup(['--tenant', tenant, '--email', 'NOBODY@example.com'], { ADMIN_TOKEN, BRIDGE_URL: url });
  t.same([byEmail.code, byEmail.stdout], [0, 'no contact with email "NOBODY@example.com"\n']);

  const noToken = await lookup(['--url', url, '--tenant', tenant, '--q', 'z'], {});
  t.same([noToken.code, noToken.stderr], [1, "contact-bridge-lookup: set ADMIN_TOKEN to the bridge's admin token\n"]);
  const wrongToken = await lookup(['--url', url, '--tenant', tenant, '--q', 'z'], { ADMIN_TOKEN: 'wrong' });
  t.equal(wrongToken.code, 1);
  t.match(wrongToken.stderr, 'the bridge answered HTTP 401');
  const nothing = await lookup(['--url', url, '--tenant', tenant, '--phone', '--']);
  t.equal(nothing.code, 1);
  for (const args of [['--tenant', tenant], ['--phone', '1'], ['--tenant', tenant, '--phone', '1', '--q', 'a'], ['--tenant', tenant, '--q', 'a', '--url', 'ftp://x'], ['--bogus']]) {
    const res = await lookup(args);
    t.equal(res.code, 1, args.join(' '));
    t.match(res.stderr, /Run with --help for usage/);
  }
  const help = await lookup(['--help']);
  t.same([help.code, help.stdout.split('\n')[0]], [0, 'contact-bridge-lookup: find a tenant\'s contacts and say whether Talkdesk can identify them']);
});
