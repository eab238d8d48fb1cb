// The process: read the configuration, build the runtime (src/runtime.ts) for ROLE, listen, and
// close gracefully on SIGTERM/SIGINT.
import { existsSync } from 'node:fs';
import closeWithGrace from 'close-with-grace';
import { ConfigError, loadConfig, type Config } from './config.js';
import { buildRuntime, type Runtime } from './runtime.js';

// A local .env (see .env.example) is a convenience for development; real environment variables win.
if (existsSync('.env')) process.loadEnvFile('.env');

let config: Config;
let runtime: Runtime;
try {
  config = loadConfig();
  runtime = await buildRuntime(config);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(1);
}
await runtime.listen();

// SIGTERM/SIGINT: stop accepting and let in-flight requests finish, then the workers (a running
// job finishes its page and goes back to the queue), then the pool; exit 0. Past the deadline
// close-with-grace exits non-zero rather than hang a deployment.
closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_SECONDS * 1000, logger: false }, async ({ signal, err }) => {
  if (err) runtime.log.error({ err }, 'closing after an unexpected error');
  else runtime.log.info({ signal }, 'shutting down');
  await runtime.close();
  runtime.log.info('closed');
});
