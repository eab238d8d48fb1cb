/**
 * The Pipedrive simulator as a standalone server, for demos and syncs running out of process:
 *
 *   npm run pipedrive-sim -- --port 4020 --persons 5000 --token pd-demo-token
 *
 * Set PIPEDRIVE_BASE_URL=http://HOST:PORT; drive it through /__sim (control.ts).
 */
import { parseArgs } from 'node:util';
import { buildPipedriveSim } from './server.js';

const USAGE = `pipedrive-sim: a Pipedrive API (v1 users/me, v2 persons and organizations) simulator

  --port N            port to listen on (4020)
  --host ADDR         address to bind (127.0.0.1)
  --company-id N      the company's id (7001)
  --domain D          the company's subdomain (demo-company)
  --token T           an admin's API token; repeatable (pd-demo-token)
  --user-token T      a non-admin user's token (sees only what the company may see); repeatable
  --persons N         persons to seed (5000)
  --window-limit N    requests per 2-second window per token (40)
  --daily-budget N    requests per UTC day for the company (none)
  --seed N            data seed (1)
  --log               log every request
  --help`;

function int(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer; got ${v}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'company-id': { type: 'string' },
      domain: { type: 'string' },
      token: { type: 'string', multiple: true },
      'user-token': { type: 'string', multiple: true },
      persons: { type: 'string' },
      'window-limit': { type: 'string' },
      'daily-budget': { type: 'string' },
      seed: { type: 'string' },
      log: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const company = {
    companyId: int('company-id', values['company-id'], 7001),
    name: 'Demo Company',
    domain: values.domain ?? 'demo-company',
    tokens: values.token ?? ['pd-demo-token'],
    userTokens: values['user-token'] ?? [],
    persons: int('persons', values.persons, 5000),
    windowLimit: int('window-limit', values['window-limit'], 40),
    ...(values['daily-budget'] === undefined ? {} : { dailyBudget: int('daily-budget', values['daily-budget'], 0) }),
  };
  const { app } = await buildPipedriveSim({ companies: [company], seed: int('seed', values.seed, 1), logger: values.log ? { level: 'info' } : false });
  const address = await app.listen({ port: int('port', values.port, 4020), host: values.host ?? '127.0.0.1' });
  console.log(`pipedrive-sim listening on ${address}: company ${company.companyId}, ${company.persons} persons, tokens ${company.tokens.join(', ')}`);
  const stop = () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  console.error(USAGE);
  process.exit(2);
});
