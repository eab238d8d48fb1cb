import type { FastifyInstance } from 'fastify';

export interface AppRoute {
  method: string;
  /** The route's pattern as registered: `/admin/tenants/:id`, `/docs/*`. */
  url: string;
}

// One line of printRoutes(): tree drawing, the node's part of the path, the methods routed there.
// The default (common-prefix) tree prints every radix node, so a path is its ancestors' parts
// joined; with commonPrefix: false find-my-way drops the parent's part of a wildcard (`/docs/*`
// for `/docs/static/*`).
const LINE = /^((?:│ {3}| {4})*)[├└]── (.+?)(?: \(([^)]*)\))?$/;

/**
 * Every route the app answers, read from its router, so that a test iterating over them covers a
 * route added later without being told about it. HEAD routes Fastify adds for GET are listed too.
 */
export function appRoutes(app: FastifyInstance): AppRoute[] {
  const routes: AppRoute[] = [];
  const prefixes: string[] = [];
  for (const line of app.printRoutes().split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const url = (prefixes[depth - 1] ?? '') + m[2]!;
    prefixes[depth] = url;
    prefixes.length = depth + 1;
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim())) {
      if (method && method !== '-') routes.push({ method, url });
    }
  }
  if (routes.length === 0) throw new Error(`no routes read from printRoutes:\n${app.printRoutes()}`);
  return routes;
}

/** A concrete path for a route pattern: each `:param` (and a trailing `*`) from `values`. */
export function fillPath(url: string, values: Record<string, string>): string {
  return url
    .replace(/:(\w+)/g, (_, name: string) => {
      const value = values[name];
      if (value === undefined) throw new Error(`no value for :${name} in ${url}`);
      return encodeURIComponent(value);
    })
    .replace(/\*$/, values['*'] ?? 'anything');
}
