import type { FastifyReply, FastifyRequest } from 'fastify';

const READS = new Set(['GET', 'HEAD']);
// What a browser says of a request its own page made (same-origin), or one the user typed or
// bookmarked (none). Anything else (same-site, cross-site) came from another page.
const OWN_FETCH_SITES = new Set(['same-origin', 'none']);

/**
 * An onRequest hook for the `/admin` scope (issue 13: cross-site actions). An operator with the
 * status page open holds basic credentials the browser re-sends to any request for this origin,
 * whoever's page makes it: an auto-submitted `text/plain` form on any web site could resync,
 * pause or delete every tenant. So every admin write must come from the bridge's own pages: a
 * browser's `Sec-Fetch-Site` must say same-origin (or none), and its `Origin` must be the
 * bridge's own (PUBLIC_URL's origin when set, else the request's Host). A script or curl with the
 * bearer token sends neither header and is not affected; a browser sends both on every write.
 */
export function sameOriginWrites(publicUrl: string | undefined) {
  const publicOrigin = publicUrl === undefined ? undefined : new URL(publicUrl).origin;
  return async function sameOriginOnly(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (READS.has(request.method)) return;
    const site = request.headers['sec-fetch-site'];
    const origin = request.headers.origin;
    if (site !== undefined && !OWN_FETCH_SITES.has(String(site).toLowerCase())) {
      return refuse(reply, `Sec-Fetch-Site: ${String(site).slice(0, 40)}`);
    }
    if (origin !== undefined && !isOwnOrigin(origin, request, publicOrigin)) {
      return refuse(reply, `Origin: ${origin.slice(0, 200)}`);
    }
  };
}

function isOwnOrigin(origin: string, request: FastifyRequest, publicOrigin: string | undefined): boolean {
  let given: URL;
  try {
    // `null` (a sandboxed frame, a data: page, some redirects) is no origin of ours.
    given = new URL(origin);
  } catch {
    return false;
  }
  if (publicOrigin !== undefined) return given.origin === publicOrigin;
  // No PUBLIC_URL: the host the browser asked for, whatever the scheme (a proxy in front may
  // terminate TLS). Parsed with the Origin's scheme, so default ports compare equal.
  try {
    return given.host === new URL(`${given.protocol}//${request.host}`).host;
  } catch {
    return false;
  }
}

function refuse(reply: FastifyReply, what: string) {
  // Answered here rather than thrown: a hook's error would reach the queue board's own error
  // handler, which words every error its own way (see adminScopeHook).
  return reply.code(403).send({
    error: 'CROSS_SITE_REQUEST',
    message: `admin writes are accepted from the bridge's own pages or from clients that send no browser headers; refused ${what}`,
  });
}

/**
 * A preValidation hook for the `/admin` scope: routes that read no body (those whose `bodyLimit`
 * is `bodylessLimit`: pause, resume, resync, deletes) refuse any. A form always carries one
 * (and a content type, even when empty); the bridge's own buttons and scripts send none. After
 * parsing, so a body over the route's limit is still the 413 it always was.
 */
export function refuseBodies(bodylessLimit: number) {
  return async function noBody(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (request.routeOptions.bodyLimit !== bodylessLimit) return;
    if (request.body === undefined && request.headers['content-type'] === undefined) return;
    return reply.code(415).send({ error: 'BODY_NOT_ALLOWED', message: 'this route reads no body: send none, and no Content-Type' });
  };
}
