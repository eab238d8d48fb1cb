import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import helmet from 'helmet';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the operators' routes: their answers carry the security headers. */
    securityHeaders?: boolean;
  }
}

export interface SecurityHeadersOptions {
  /** Where the operators' page templates are: their inline scripts are allowed by hash, nothing else inline. */
  views: string;
}

/**
 * The operators' pages and everything they load or call (the status page, the queue board, the
 * API docs), and the pages a customer connects a CRM account through.
 */
const OPERATOR_PREFIXES = ['/admin', '/docs', '/connect'];

/**
 * The usual security headers (`helmet`) on every operator page, its assets and its API (issue
 * 13): a Content-Security-Policy that allows scripts from the bridge itself and the templates'
 * own inline scripts by hash, `frame-ancestors 'none'` and `X-Frame-Options: DENY` (no page of
 * ours inside another's frame, so no click can be lured onto a Resync button), nosniff, no
 * referrer. Talkdesk's routes get none of it: they serve JSON to a machine.
 *
 * `helmet` itself, not `@fastify/helmet`: the plugin builds helmet's middleware again on every
 * request and hooks every route, the sync endpoint included; here it is built once and hooked
 * onto the operators' routes alone.
 */
export default fp(
  async function securityHeaders(app: FastifyInstance, { views }: SecurityHeadersOptions) {
    const setHeaders = helmet({
      contentSecurityPolicy: {
        useDefaults: true,
        directives: {
          'script-src': ["'self'", ...inlineScriptHashes(views)],
          'frame-ancestors': ["'none'"],
          // The bridge may be reached over plain HTTP (behind a proxy that terminates TLS, or in
          // the demo); upgrading its subresources to HTTPS there would break its own pages.
          'upgrade-insecure-requests': null,
        },
      },
      frameguard: { action: 'deny' },
    });
    // Marked once per route; the hook is the app's own, so it runs before any scope's hooks (the
    // admin check's 401 page carries the headers too). Headers set on the raw response before
    // Fastify writes its own are kept by Fastify.
    app.addHook('onRoute', (route) => {
      if (OPERATOR_PREFIXES.some((prefix) => route.url === prefix || route.url.startsWith(`${prefix}/`))) {
        route.config = { ...route.config, securityHeaders: true };
      }
    });
    const onRequest: onRequestHookHandler = (request, reply, done) => {
      if (!request.routeOptions.config.securityHeaders) return done();
      setHeaders(request.raw, reply.raw, (err?: unknown) => done(err as Error | undefined));
    };
    app.addHook('onRequest', onRequest);
  },
  { name: 'security-headers' },
);

/**
 * `'sha256-…'` sources for each inline `<script>` of the templates in `dir`. Read from the
 * templates, not from rendered pages, so that nothing a page shows (a tenant's name, a CRM's
 * error) can ever become an allowed script; a script with template tags in it cannot be hashed
 * and is not allowed (test/cross-site.test.ts checks every rendered inline script is).
 */
export function inlineScriptHashes(dir: string): string[] {
  const hashes = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.eta'))) {
    const template = readFileSync(join(dir, file), 'utf8');
    for (const [, body] of template.matchAll(/<script>([\s\S]*?)<\/script>/g)) {
      if (body === undefined || body.includes('<%')) continue;
      hashes.add(`'sha256-${createHash('sha256').update(body, 'utf8').digest('base64')}'`);
    }
  }
  return [...hashes];
}
