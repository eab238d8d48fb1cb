// npm run lint: typescript-eslint's recommended rules over the whole tree, and the import
// boundaries of the architecture (see "Boundaries in lint" in STYLE.md). Formatting is not
// linted; correctness is (unused code, unsafe patterns, floating mistakes, imports that cross
// a boundary or close a cycle). test/lint-boundaries.test.ts proves the boundary rules bite.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import importX from 'eslint-plugin-import-x';
import { ModuleInfo } from 'eslint-plugin-import-x/core/module-info';
import { moduleVisitor, resolve } from 'eslint-plugin-import-x/utils';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import path from 'node:path';

const root = import.meta.dirname;
const relative = (file) => path.relative(root, file).split(path.sep).join('/');
// A package never imports this project back, so a cycle only runs through the project's own files.
const ownFile = (file) => {
  const rel = relative(file);
  return !rel.startsWith('../') && !path.isAbsolute(rel) && !rel.split('/').includes('node_modules');
};

/**
 * boundaries/no-cycle: no module may reach itself through its imports, type-only imports
 * included. import-x/no-cycle skips `import type` edges unconditionally (they vanish at
 * runtime), but a type cycle still ties two modules into one: neither can move or be read
 * alone. This rule walks the same module graph (import-x's resolver and parse cache) and
 * counts every static, re-exporting and dynamic import edge.
 */
const noCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'Forbid an import that closes a dependency cycle, type-only imports included.' },
    schema: [],
    messages: { cycle: 'Dependency cycle (type-only imports count): {{route}}' },
  },
  create(context) {
    const filename = context.physicalFilename;
    if (!path.isAbsolute(filename)) return {};
    // Modules already walked from this file without finding it: each is walked once per file.
    const walked = new Set();
    return moduleVisitor((source, importer) => {
      const resolved = resolve(source.value, context);
      if (resolved == null || !ownFile(resolved) || resolved === filename || walked.has(resolved)) return;
      walked.add(resolved);
      const first = ModuleInfo.get(source.value, context);
      if (first == null) return;
      const queue = [{ info: first, route: [relative(first.path)] }];
      while (queue.length > 0) {
        const { info, route } = queue.shift();
        for (const [next, { resolve: load }] of info.getImports()) {
          if (next === filename) {
            // What this walk queued but never opened may close a cycle through another import.
            for (const queued of queue) walked.delete(queued.info.path);
            context.report({ node: importer, messageId: 'cycle', data: { route: [relative(filename), ...route, relative(filename)].join(' → ') } });
            return;
          }
          if (walked.has(next) || !ownFile(next)) continue;
          walked.add(next);
          const nextInfo = load();
          if (nextInfo != null) queue.push({ info: nextInfo, route: [...route, relative(next)] });
        }
      }
    }, { commonjs: true });
  },
};

// Everything in src/ but the composition root: every subfolder, and every top-level file but runtime.ts.
const SRC_EXCEPT_COMPOSITION_ROOT = ['./src/*/**', './src/!(runtime.ts)'];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.tap/', 'migrations/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_name` marks a value deliberately unused (destructuring a field away).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // Tests read JSON answers whose shape the assertions check.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Import boundaries. The TypeScript resolver follows NodeNext's `.js` specifiers to the `.ts`
    // files they name; an import the resolver cannot follow would escape these rules, so
    // import-x/no-unresolved fails it.
    files: ['**/*.ts', '**/*.js'],
    plugins: { 'import-x': importX, boundaries: { rules: { 'no-cycle': noCycle } } },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: path.join(root, 'tsconfig.json') })],
    },
    rules: {
      'import-x/no-unresolved': ['error', { ignore: ['^node:'] }],
      'boundaries/no-cycle': 'error',
      'import-x/no-restricted-paths': [
        'error',
        {
          basePath: root,
          zones: [
            {
              target: ['./src', './workers'],
              from: ['./harness', './test'],
              message: 'The service (src/, workers/) never imports the harness or the tests.',
            },
            {
              target: './src/sync',
              from: ['./src/crm', './src/ingest', './workers'],
              message: 'The sync path answers from the mirror: it never reaches CRM, ingest-queue or worker code.',
            },
            {
              target: './src/mirror',
              from: ['./src/sync', './src/crm'],
              message: 'The mirror never reaches the sync path or CRM code.',
            },
            {
              target: SRC_EXCEPT_COMPOSITION_ROOT,
              from: './workers',
              message: 'Only the composition root (src/runtime.ts) reaches workers/.',
            },
          ],
        },
      ],
    },
  },
);
