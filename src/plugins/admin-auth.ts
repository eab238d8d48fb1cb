import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import createError from '@fastify/error';

const AdminDisabledError = createError('ADMIN_DISABLED', 'the admin API is disabled: ADMIN_TOKEN is not set', 403);
const AdminUnauthorizedError = createError('ADMIN_UNAUTHORIZED', 'a valid admin bearer token is required', 401);

// Hashing both sides first gives equal-length buffers, so the comparison leaks not even the length.
const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * An onRequest hook for admin routes: `Authorization: Bearer <ADMIN_TOKEN>`, or HTTP basic auth
 * with any user and ADMIN_TOKEN as the password (browsers cannot send a bearer header to the
 * status page and the queue board). Refuses everything when ADMIN_TOKEN is unset.
 */
export function adminAuth(adminToken: string | undefined) {
  const expected = adminToken === undefined ? undefined : digest(adminToken);
  return async function checkAdminToken(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!expected) throw new AdminDisabledError();
    const given = presentedToken(request.headers.authorization ?? '');
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      // Basic first, so a browser asks for the password; API clients use Bearer.
      reply.header('www-authenticate', 'Basic realm="contact-bridge admin", charset="UTF-8"');
      throw new AdminUnauthorizedError();
    }
  };
}

/**
 * The admin check as the one hook of the `/admin` scope. It answers refusals itself, in the
 * bridge's `{ error, message }` shape, because a hook's error would reach the error handler of the
 * route's own scope, and the queue board's words every error as its INTERNAL_SERVER_ERROR.
 */
export function adminScopeHook(adminToken: string | undefined) {
  const check = adminAuth(adminToken);
  return async function adminOnly(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      await check(request, reply);
    } catch (err) {
      const { statusCode = 500, code, message } = err as FastifyError;
      return reply.code(statusCode).send({ error: code, message });
    }
  };
}

function presentedToken(header: string): string | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  if (bearer) return bearer[1]!.trim();
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}
