import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.js';

const base = {
  DATABASE_URL: 'postgres://u:p@localhost:5432/db',
  REDIS_URL: 'redis://localhost:6379',
  BRIDGE_SECRET: 'x'.repeat(32),
};

t.test('defaults fill what is not set', async (t) => {
  const config = loadConfig(base);
  t.match(config, { PORT: 3000, HOST: '0.0.0.0', SYNC_PAGE_SIZE: 1000, ROLE: 'all', MIGRATE_ON_START: true, SYNC_PATH: '/contact_sync' });
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
