// `node dist/src/tenants/rotate-secret-cli.js [--check]`: the last step of a BRIDGE_SECRET
// rotation (docs/secret-rotation.md). Rewrites every tenant still under BRIDGE_SECRET_PREVIOUS
// under BRIDGE_SECRET; with --check, writes nothing and exits 0 only when none is left, which is
// when BRIDGE_SECRET_PREVIOUS may be removed. Needs DATABASE_URL, BRIDGE_SECRET and
// BRIDGE_SECRET_PREVIOUS, the same values the server runs with.
import { Type } from '@sinclair/typebox';
import { ConfigError, ConfigSchema, loadEnv } from '../config.js';
import { createDatabase } from '../db/client.js';
import { deriveKeys } from './keys.js';
import { rewriteAllUnderCurrentSecret } from './secret-rotation.js';

const dryRun = process.argv.includes('--check');
try {
  const env = loadEnv(Type.Pick(ConfigSchema, ['DATABASE_URL', 'BRIDGE_SECRET', 'BRIDGE_SECRET_PREVIOUS']));
  const database = createDatabase({ url: env.DATABASE_URL, max: 1, applicationName: 'contact-bridge-rotate-secret' });
  try {
    const keys = deriveKeys(env.BRIDGE_SECRET, env.BRIDGE_SECRET_PREVIOUS);
    const report = await rewriteAllUnderCurrentSecret(database.db, keys, { dryRun });
    const complete = report.pending === 0 && report.unreadable.length === 0;
    // keyId: what every tenant's stored credentials name once the rotation is complete (see the doc's query).
    console.log(JSON.stringify({ keyId: keys.credentialsKeyId, ...report, complete }));
    if (report.unreadable.length > 0) {
      console.error(
        `${report.unreadable.length} credential(s) open with neither BRIDGE_SECRET nor BRIDGE_SECRET_PREVIOUS: keep the secret they were made under`,
      );
    }
    if (!complete) process.exitCode = 1;
  } finally {
    await database.close();
  }
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `secret rotation failed: ${(err as Error).message}`);
  process.exitCode = 1;
}
