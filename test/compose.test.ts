// The container setup: docker-compose.yml as `docker compose config` resolves it (when a docker
// client with the compose plugin is installed; no engine is needed), and the Dockerfile as text.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string): string => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

// Test values only, passed in the child's environment: .env.example holds no secrets.
const secrets = {
  BRIDGE_SECRET: 'compose-test-secret-0123456789abcdef',
  ADMIN_TOKEN: 'compose-test-admin-token',
  METRICS_TOKEN: 'compose-test-metrics-token',
  POSTGRES_PASSWORD: 'compose-test-password',
};

interface Port {
  host_ip?: string;
  published?: string | number;
  target: number;
}
interface Service {
  image?: string;
  command?: string[] | null;
  build?: { context?: string; target?: string };
  environment?: Record<string, string | null>;
  ports?: Port[];
  profiles?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
}
interface ComposeConfig {
  services: Record<string, Service>;
}

function composeVersion(): { ok: true } | { ok: false; why: string } {
  const r = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) return { ok: false, why: `no docker client (${r.error.message})` };
  if (r.status !== 0) {
    return { ok: false, why: `\`docker compose version\` failed, the compose plugin is missing (${(r.stderr || r.stdout).trim().split('\n')[0]})` };
  }
  return { ok: true };
}

/** `docker compose config` with .env.example and the given variables over a cleaned environment. */
function composeConfig(args: string[], vars: Record<string, string>) {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Nothing from the caller's shell may change the result: secrets, compose settings, ports.
    if (k in secrets || k.startsWith('COMPOSE_') || k.endsWith('_HOST_PORT') || k === 'HUBSPOT_BASE_URL' || k === 'PIPEDRIVE_BASE_URL') continue;
    env[k] = v;
  }
  Object.assign(env, vars);
  return spawnSync(
    'docker',
    ['compose', '-f', 'docker-compose.yml', '--env-file', '.env.example', ...args, 'config', '--format', 'json'],
    { cwd: root, env, encoding: 'utf8', timeout: 60_000 },
  );
}

function config(t: Test, args: string[]): ComposeConfig {
  const r = composeConfig(args, secrets);
  t.equal(r.status, 0, `docker compose ${args.join(' ')} config succeeds`, { stderr: r.stderr });
  return JSON.parse(r.stdout) as ComposeConfig;
}

const compose = composeVersion();
const skip = compose.ok ? false : `${compose.why}: cannot resolve docker-compose.yml`;

t.test('docker compose config (default profile)', { skip }, async (t) => {
  const { services } = config(t, []);
  t.same(Object.keys(services).sort(), ['api', 'postgres', 'redis', 'worker'], 'hubspot-sim only with --profile demo');
  checkStack(t, services);
});

t.test('docker compose config --profile demo', { skip }, async (t) => {
  const { services } = config(t, ['--profile', 'demo']);
  t.same(Object.keys(services).sort(), ['api', 'hubspot-sim', 'postgres', 'redis', 'worker']);
  checkStack(t, services);
  const sim = services['hubspot-sim']!;
  t.same(sim.profiles, ['demo']);
  t.equal(sim.command?.[0], 'node');
  t.match(sim.command?.join(' '), /harness\/hubspot-sim\/main\.ts .*--host 0\.0\.0\.0 .*--port 4010/);
  t.equal(sim.build?.target, 'hubspot-sim', 'built from the simulator target, not the product image');
  t.same(sim.ports?.map((p) => [p.host_ip, String(p.published), p.target]), [['127.0.0.1', '4010', 4010]]);
});

t.test('docker compose config refuses to run without the secrets', { skip }, async (t) => {
  for (const missing of Object.keys(secrets)) {
    const vars: Record<string, string> = { ...secrets };
    delete vars[missing];
    const r = composeConfig([], vars);
    t.not(r.status, 0, `fails without ${missing}`);
    t.match(r.stderr, missing, `the error names ${missing}`);
  }
});

function checkStack(t: Test, services: Record<string, Service>): void {
  for (const [name, service] of Object.entries(services)) {
    t.ok(service.healthcheck?.test?.length && !service.healthcheck.disable, `${name} has a healthcheck`);
    for (const port of service.ports ?? []) {
      t.equal(port.host_ip, '127.0.0.1', `${name} publishes ${port.target} on 127.0.0.1 only`);
    }
  }
  t.same(services.postgres!.image, 'postgres:17');
  t.match(services.postgres!.healthcheck?.test?.join(' '), /pg_isready/);
  t.match(services.redis!.image, /^redis:7/);
  t.match(services.redis!.healthcheck?.test?.join(' '), /redis-cli ping/);
  const redisCommand = services.redis!.command?.join(' ') ?? '';
  t.match(redisCommand, /--appendonly yes/);
  t.match(redisCommand, /--maxmemory-policy noeviction/);

  for (const name of ['api', 'worker']) {
    const s = services[name]!;
    t.match(s.depends_on, { postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } }, `${name} waits for healthy postgres and redis`);
    t.match(s.healthcheck?.test?.join(' '), /\/healthz/, `${name} healthcheck probes /healthz`);
    t.match(
      s.environment,
      {
        DATABASE_URL: `postgres://bridge:${secrets.POSTGRES_PASSWORD}@postgres:5432/bridge`,
        REDIS_URL: 'redis://redis:6379',
        BRIDGE_SECRET: secrets.BRIDGE_SECRET,
        ADMIN_TOKEN: secrets.ADMIN_TOKEN,
        METRICS_TOKEN: secrets.METRICS_TOKEN,
        HUBSPOT_BASE_URL: 'https://api.hubapi.com',
        HOST: '0.0.0.0',
      },
      `${name} reaches the services by name`,
    );
  }
  t.equal(services.api!.environment?.ROLE, 'api');
  t.same(services.api!.ports?.map((p) => [p.host_ip, String(p.published), p.target]), [['127.0.0.1', '3000', 3000]]);
  t.equal(services.worker!.environment?.ROLE, 'worker');
  t.same(services.worker!.ports ?? [], [], 'worker publishes no port, so it can be scaled');
  t.equal(services.api!.image, services.worker!.image, 'api and worker run the same image');
}

// ---- without docker ------------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions: comments dropped, continuation lines joined. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    pending += (pending ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const m = /^(\w+)\s+([\s\S]*)$/.exec(pending);
    if (m) out.push({ keyword: m[1]!.toUpperCase(), args: m[2]! });
    pending = '';
  }
  return out;
}

/** CMD/ENTRYPOINT arguments as a list: JSON exec form, or the words of the shell form. */
function commandWords(args: string): string[] {
  if (args.trim().startsWith('[')) return JSON.parse(args) as string[];
  return args.trim().split(/\s+/);
}

t.test('Dockerfile', async (t) => {
  const all = parseDockerfile(read('Dockerfile'));
  const froms = all.filter((i) => i.keyword === 'FROM');
  t.ok(froms.length >= 2, 'multi-stage build');
  for (const from of froms) t.match(from.args, /^node:20-bookworm-slim\b/);
  // The runtime image is the last stage.
  const last = all.slice(all.lastIndexOf(froms.at(-1)!));
  const runs = last.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  t.ok(runs.some((r) => /npm ci\b.*--omit=dev/.test(r) && /--ignore-scripts/.test(r)), 'runtime installs production dependencies only, without prepare');
  t.ok(
    last.some((i) => i.keyword === 'ENV' && /\bNODE_ENV[= ]production\b/.test(i.args)),
    'NODE_ENV=production',
  );
  const copies = last.filter((i) => i.keyword === 'COPY').map((i) => i.args);
  // dist/src/db/migrate.js reads ../../../migrations; dist/src/admin/status-page.js ../../../src/admin/views
  t.ok(copies.some((c) => /^--from=\S+\s+\S*dist\/?\s+\.\/dist\/?$/.test(c)), 'dist copied from the build stage to ./dist');
  t.ok(copies.includes('migrations ./migrations'), 'migrations beside dist');
  t.ok(copies.includes('src/admin/views ./src/admin/views'), 'status page views where dist looks for them');

  const users = last.filter((i) => i.keyword === 'USER');
  t.ok(users.length > 0, 'the runtime stage sets USER');
  t.notMatch(users.at(-1)?.args ?? 'root', /^(root|0)(:|$)/, 'and it is not root');

  const healthcheck = last.find((i) => i.keyword === 'HEALTHCHECK');
  t.match(healthcheck?.args, /\/healthz/, 'HEALTHCHECK probes /healthz');
  t.notMatch(healthcheck?.args, /\bcurl\b|\bwget\b/, 'with node itself (no curl in the slim image)');
  t.ok(last.some((i) => i.keyword === 'EXPOSE' && /\b3000\b/.test(i.args)), 'EXPOSE 3000');

  const cmd = last.filter((i) => i.keyword === 'CMD').at(-1);
  t.ok(cmd, 'CMD set');
  t.notOk(last.some((i) => i.keyword === 'ENTRYPOINT'), 'no ENTRYPOINT wraps the command');
  const words = commandWords(cmd?.args ?? '');
  t.equal(words[0], 'node', 'CMD runs node directly (not npm), so SIGTERM reaches the process');
  t.ok(cmd?.args.trim().startsWith('['), 'exec form: no shell in between either');
  t.equal(words[1], 'dist/src/server.js');

  // The product image holds the product only: the build stage compiles src/ and workers/, and
  // nothing of the harness (simulators, chaos, bench, scripts) reaches the runtime stage.
  const build = all.slice(all.indexOf(froms[0]!), all.indexOf(froms[1]!));
  const buildSources = build.filter((i) => i.keyword === 'COPY').map((i) => i.args.split(/\s+/)[0]);
  t.same(buildSources.filter((s) => !/^(package|tsconfig)/.test(s!)), ['src', 'workers'], 'the build stage compiles src/ and workers/ alone');
  t.notOk(copies.some((c) => /harness|bench|scripts/.test(c)), 'the runtime stage copies no harness code');
  const sim = froms.find((f) => /\bAS hubspot-sim$/i.test(f.args));
  t.ok(sim, 'the simulator has a target of its own');
});

t.test('.dockerignore keeps secrets and local artefacts out of the build context', async (t) => {
  const lines = read('.dockerignore').split('\n').map((l) => l.trim());
  for (const entry of ['node_modules', 'dist', '.git', '.env']) t.ok(lines.includes(entry), entry);
});

t.test('.env.example names every variable compose needs and holds no secret', async (t) => {
  const example = new Map<string, string>();
  for (const line of read('.env.example').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) example.set(m[1]!, m[2]!);
  }
  const used = new Set([...read('docker-compose.yml').matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
  for (const name of used) t.ok(example.has(name), `${name} is in .env.example`);
  for (const name of Object.keys(secrets)) t.equal(example.get(name), '', `${name} is left empty`);
});
