// npm run load: many Talkdesk sync runs at once against many tenants while ingest keeps writing,
// at 50, 100 and 200 concurrent runs (LOAD_LEVELS) for LOAD_SECONDS each, then an overload phase
// that must be shed with 503 + Retry-After rather than time out. Runs on the local PostgreSQL and
// Redis (TEST_DATABASE_URL, TEST_REDIS_URL, as the tests do) in a database and queue prefix of its
// own, dropped at the end; writes the table to docs/load.md (LOAD_OUTPUT). Every LOAD_* variable
// is in scripts/load/settings.ts.
import { ConfigError } from '../../src/config.js';
import { runLoad } from './load/run.js';
import { renderLoadReport } from './load/report.js';
import { loadSettings, type LoadSettings } from './load/settings.js';

let settings: LoadSettings;
try {
  settings = loadSettings();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(1);
}

const report = await runLoad(settings);
process.stdout.write(renderLoadReport(report));
console.error(`\nwritten to ${settings.output}`);
const phases = [...report.levels, ...(report.overload ? [report.overload] : [])];
const failures = phases.reduce((sum, p) => sum + p.result.errors.total + p.result.timeouts, 0);
// The targets: no errors, and overload shed rather than timed out. A run missing them exits
// non-zero, so a script can tell.
process.exit(failures === 0 ? 0 : 1);
