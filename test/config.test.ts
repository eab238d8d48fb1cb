import { readFileSync } from 'node:fs';
import t from 'tap';
import { ConfigError, ConfigSchema, loadConfig } from '../src/config.js';

const base = {
  DATABASE_URL: 'postgres://u:p@localhost:5432/db',
  REDIS_URL: 'redis://localhost:6379',
  BRIDGE_SECRET: 'x'.repeat(32),
};

t.test('defaults fill what is not set', async (t) => {
  const config = loadConfig(base);
  t.match(config, { PORT: 3000, HOST: '0.0.0.0', SYNC_PAGE_SIZE: 2000, ROLE: 'all', MIGRATE_ON_START: true, SYNC_PATH: '/contact_sync' });
  t.equal(config.ADMIN_TOKEN, undefined);
});

t.test('values are converted from strings', async (t) => {
  const config = loadConfig({ ...base, PORT: '8080', SYNC_PAGE_SIZE: '250', MIGRATE_ON_START: 'false', ROLE: 'api' });
  t.match(config, { PORT: 8080, SYNC_PAGE_SIZE: 250, MIGRATE_ON_START: false, ROLE: 'api' });
});

t.test('a missing or bad value stops start-up with a message naming it', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ DATABASE_URL: '' }, /^invalid configuration: DATABASE_URL .*it is not set/],
    [{ REDIS_URL: 'localhost:6379' }, /^invalid configuration: REDIS_URL /],
    [{ BRIDGE_SECRET: 'short' }, /^invalid configuration: BRIDGE_SECRET .*<redacted>/],
    [{ PORT: 'eighty' }, /^invalid configuration: PORT .*"eighty"/],
    [{ SYNC_PAGE_SIZE: '0' }, /^invalid configuration: SYNC_PAGE_SIZE /],
    [{ SYNC_PAGE_SIZE: '10001' }, /^invalid configuration: SYNC_PAGE_SIZE /],
    [{ ROLE: 'both' }, /^invalid configuration: ROLE /],
    [{ ADMIN_TOKEN: 'short' }, /^invalid configuration: ADMIN_TOKEN /],
  ];
  for (const [env, message] of cases) {
    const err = t.throws(() => loadConfig({ ...base, ...env }));
    t.type(err, ConfigError);
    t.match((err as Error).message, message);
    t.notMatch((err as Error).message, /\n/, 'one line');
  }
  t.notMatch(
    (t.throws(() => loadConfig({ ...base, BRIDGE_SECRET: 'sup3r-s3cret' })) as Error).message,
    /sup3r/,
    'secrets are not echoed',
  );
});

t.test('BRIDGE_SECRET_PREVIOUS is optional, as long as BRIDGE_SECRET, and never the same secret', async (t) => {
  t.equal(loadConfig(base).BRIDGE_SECRET_PREVIOUS, undefined);
  t.equal(loadConfig({ ...base, BRIDGE_SECRET_PREVIOUS: 'p'.repeat(32) }).BRIDGE_SECRET_PREVIOUS, 'p'.repeat(32));
  const short = t.throws(() => loadConfig({ ...base, BRIDGE_SECRET_PREVIOUS: 'old-s3cret' })) as Error;
  t.match(short.message, /^invalid configuration: BRIDGE_SECRET_PREVIOUS .*<redacted>/);
  t.notMatch(short.message, /old-s3cret/, 'not echoed');
  const same = t.throws(() => loadConfig({ ...base, BRIDGE_SECRET_PREVIOUS: base.BRIDGE_SECRET })) as Error;
  t.type(same, ConfigError);
  t.match(same.message, /BRIDGE_SECRET_PREVIOUS equals BRIDGE_SECRET/);
  t.notMatch(same.message, /x{32}/, 'not echoed');
});

t.test("the README's configuration table lists exactly the variables the schema declares", async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'));
  const table = section.slice(0, section.indexOf('\n## '));
  const documented = table
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]!));
  t.same([...documented].sort(), Object.keys(ConfigSchema.properties).sort());
});
