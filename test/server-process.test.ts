import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freshDatabase } from './helpers/database.js';
import { eventually } from './helpers/ingest.js';
import { testRedisUrl } from './helpers/services.js';

// The process as `npm start` runs it: configuration, migrations, both halves, graceful close.
const server = fileURLToPath(new URL('../src/server.ts', import.meta.url));
const run = (env: Record<string, string | undefined>) =>
  spawn(process.execPath, [...process.execArgv, server], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });

t.test('a bad configuration stops start-up with one line naming the variable', async (t) => {
  const child = run({ DATABASE_URL: 'postgres://x@127.0.0.1/x', REDIS_URL: 'redis://127.0.0.1:6379', BRIDGE_SECRET: 'short', LOG_LEVEL: 'silent' });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const [code] = await once(child, 'exit');
  t.equal(code, 1);
  t.match(stderr.trim(), /^invalid configuration: BRIDGE_SECRET [^\n]*$/);
});

t.test('the server migrates, serves, and shuts down gracefully on SIGTERM', async (t) => {
  const database = await freshDatabase(t);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = run({
    DATABASE_URL: database.url,
    REDIS_URL: await testRedisUrl(),
    BRIDGE_SECRET: 'process-test-secret-process-test-secret',
    ADMIN_TOKEN: 'process-test-admin-token',
    PORT: String(port),
    HOST: '127.0.0.1',
    QUEUE_PREFIX: `cbproc${port}`,
    LOG_LEVEL: 'warn',
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let answer: { status: number; body: unknown } | undefined;
  await eventually('the server answers', async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/contact_sync`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth: { access_token: '' }, meta: {} }),
      });
      answer = { status: res.status, body: await res.json() };
      return true;
    } catch {
      return false;
    }
  }, 30_000);
  t.match(answer, { status: 401, body: { error: 'UNKNOWN_CREDENTIALS' } }, 'migrated and serving');
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  t.equal(code, 0, 'exits 0 after closing');
});
