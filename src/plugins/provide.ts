import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * A named plugin that decorates the instance with one ready service (`app.db`, `app.config`…),
 * so a route reads what it needs by name, and a plugin can declare that it depends on it. The
 * decoration's type is declared next to the module that provides it.
 */
export function provide<K extends keyof FastifyInstance & string>(name: K) {
  return fp(
    async function provider(app: FastifyInstance, { value }: { value: FastifyInstance[K] }) {
      // Fastify types a decoration's value by the instance's declared property; the caller's
      // options are already typed by it, so the value is passed through as declared.
      (app.decorate as (name: string, value: unknown) => FastifyInstance)(name, value);
    },
    { name },
  );
}
