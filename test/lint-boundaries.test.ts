import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import t, { type Test } from 'tap';

// The architecture's import boundaries are eslint rules (eslint.config.js). Each test plants
// short-lived probe files inside the tree, lints them exactly as `npm run lint` does, and checks
// that a forbidden import is reported by the expected rule while the same kind of file making an
// allowed import passes clean. Probes, in src/ and workers/, are named __lint_probe_<random>_*.ts
// and removed when their test ends.

const root = fileURLToPath(new URL('..', import.meta.url));
const run = randomBytes(4).toString('hex');
const eslint = new ESLint({ cwd: root });

const RESTRICTED = 'import-x/no-restricted-paths';
const CYCLE = 'boundaries/no-cycle';

/** Writes `source` to `<dir>/__lint_probe_<run>_<name>.ts` for the rest of the test; returns its path. */
async function plant(t: Test, dir: string, name: string, source: string): Promise<string> {
  const file = path.join(root, dir, `__lint_probe_${run}_${name}.ts`);
  t.teardown(() => rm(file, { force: true }));
  await writeFile(file, source, { flag: 'wx' });
  return file;
}

/** A probe that imports `specifier` and uses it, so only a boundary can make it fail. */
const importing = (specifier: string, kind: 'value' | 'type' = 'value'): string =>
  kind === 'value'
    ? `import * as target from '${specifier}';\n\nexport const probe = target;\n`
    : `import type * as target from '${specifier}';\n\nexport type Probe = typeof target;\n`;

/** Every problem eslint reports, as the rule that reported it (a parse failure as `fatal: …`). */
const problems = (result: ESLint.LintResult): string[] =>
  result.messages.map((m) => m.ruleId ?? `fatal: ${m.message}`);

async function lint(files: string[]): Promise<Map<string, string[]>> {
  const results = await eslint.lintFiles(files);
  return new Map(results.map((r) => [r.filePath, problems(r)]));
}

/** The probe targets must exist: an import that does not resolve is not checked against a zone. */
function existing(t: Test, ...files: string[]): void {
  for (const file of files) t.ok(existsSync(path.join(root, file)), `${file} exists to be imported`);
}

t.test('service code that imports the harness or the tests fails lint, and importing itself passes', async (t) => {
  existing(t, 'harness/hubspot-sim/prng.ts', 'test/helpers/guard.ts', 'src/config.ts');
  const probes = {
    harness: await plant(t, 'src', 'harness', importing('../harness/hubspot-sim/prng.js')),
    harnessType: await plant(t, 'src/sync', 'harness_type', importing('../../harness/hubspot-sim/prng.js', 'type')),
    test: await plant(t, 'workers', 'test', importing('../test/helpers/guard.js')),
    clean: await plant(t, 'src', 'clean', importing('./config.js')),
  };
  const found = await lint(Object.values(probes));
  t.same(found.get(probes.harness), [RESTRICTED], 'src/ importing harness/');
  t.same(found.get(probes.harnessType), [RESTRICTED], 'src/sync/ importing harness/ for types only');
  t.same(found.get(probes.test), [RESTRICTED], 'workers/ importing test/');
  t.same(found.get(probes.clean), [], 'src/ importing src/');
});

t.test('the sync path importing CRM, ingest-queue or worker code fails lint, and importing the sync path passes', async (t) => {
  existing(t, 'src/crm/connector.ts', 'src/ingest/queue.ts', 'workers/index.ts', 'src/sync/cursor.ts');
  const probes = {
    crm: await plant(t, 'src/sync', 'crm', importing('../crm/connector.js')),
    ingest: await plant(t, 'src/sync', 'ingest', importing('../ingest/queue.js', 'type')),
    workers: await plant(t, 'src/sync', 'workers', importing('../../workers/index.js')),
    clean: await plant(t, 'src/sync', 'clean', importing('./cursor.js')),
  };
  const found = await lint(Object.values(probes));
  t.same(found.get(probes.crm), [RESTRICTED], 'src/sync/ importing src/crm/');
  t.same(found.get(probes.ingest), [RESTRICTED], 'src/sync/ importing src/ingest/ for types only');
  // Two boundaries at once: the sync path's, and "only the composition root reaches workers/".
  t.same(found.get(probes.workers), [RESTRICTED, RESTRICTED], 'src/sync/ importing workers/');
  t.same(found.get(probes.clean), [], 'src/sync/ importing src/sync/');
});

t.test('the mirror importing the sync path or CRM code fails lint, and importing the mirror passes', async (t) => {
  existing(t, 'src/sync/cursor.ts', 'src/crm/errors.ts', 'src/mirror/contact.ts');
  const probes = {
    sync: await plant(t, 'src/mirror', 'sync', importing('../sync/cursor.js', 'type')),
    crm: await plant(t, 'src/mirror', 'crm', importing('../crm/errors.js')),
    clean: await plant(t, 'src/mirror', 'clean', importing('./contact.js')),
  };
  const found = await lint(Object.values(probes));
  t.same(found.get(probes.sync), [RESTRICTED], 'src/mirror/ importing src/sync/ for types only');
  t.same(found.get(probes.crm), [RESTRICTED], 'src/mirror/ importing src/crm/');
  t.same(found.get(probes.clean), [], 'src/mirror/ importing src/mirror/');
});

t.test('only the composition root src/runtime.ts may import workers/', async (t) => {
  existing(t, 'workers/index.ts', 'src/admin/limits.ts');
  const probes = {
    admin: await plant(t, 'src/admin', 'workers', importing('../../workers/index.js')),
    topLevel: await plant(t, 'src', 'workers', importing('../workers/index.js', 'type')),
    clean: await plant(t, 'src/admin', 'clean', importing('./limits.js')),
  };
  const found = await lint(Object.values(probes));
  t.same(found.get(probes.admin), [RESTRICTED], 'src/admin/ importing workers/');
  t.same(found.get(probes.topLevel), [RESTRICTED], 'a top-level file of src/ importing workers/ for types only');
  t.same(found.get(probes.clean), [], 'src/admin/ importing src/admin/');

  // The composition root is being written elsewhere and may exist: lint probe text under its
  // path instead of touching the file.
  const asFile = async (file: string, source: string) =>
    problems((await eslint.lintText(source, { filePath: path.join(root, file) }))[0]!);
  t.same(await asFile('src/runtime.ts', importing('../workers/index.js')), [], 'src/runtime.ts importing workers/');
  t.same(
    await asFile('src/admin/runtime.ts', importing('../../workers/index.js')),
    [RESTRICTED],
    'a file named runtime.ts elsewhere in src/ is not the composition root',
  );
});

t.test('an import cycle fails lint even when every import in it is type-only, and a one-way import passes', async (t) => {
  const a = `__lint_probe_${run}_cycle_a.js`;
  const b = `__lint_probe_${run}_cycle_b.js`;
  const c = `__lint_probe_${run}_leaf.js`;
  const probes = {
    a: await plant(t, 'src/tenants', 'cycle_a', `import type { B } from './${b}';\n\nexport interface A {\n  b?: B;\n}\n`),
    b: await plant(t, 'src/tenants', 'cycle_b', `import type { A } from './${a}';\n\nexport interface B {\n  a?: A;\n}\n`),
    user: await plant(t, 'src/tenants', 'user', `import type { C } from './${c}';\n\nexport interface User {\n  c?: C;\n}\n`),
    leaf: await plant(t, 'src/tenants', 'leaf', `export interface C {\n  id: string;\n}\n`),
  };
  const found = await lint(Object.values(probes));
  t.same(found.get(probes.a), [CYCLE], 'the first file of the cycle');
  t.same(found.get(probes.b), [CYCLE], 'the second file of the cycle');
  t.same(found.get(probes.user), [], 'a file importing a type one way');
  t.same(found.get(probes.leaf), [], 'the file it imports');
});

t.test('an import cycle of value imports fails lint as well', async (t) => {
  const probes = {
    a: await plant(t, 'src/mirror', 'loop_a', importing(`./__lint_probe_${run}_loop_b.js`)),
    b: await plant(t, 'src/mirror', 'loop_b', importing(`./__lint_probe_${run}_loop_a.js`)),
  };
  const found = await lint(Object.values(probes));
  t.same(found.get(probes.a), [CYCLE], 'the first file of the cycle');
  t.same(found.get(probes.b), [CYCLE], 'the second file of the cycle');
});
