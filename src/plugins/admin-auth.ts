import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import createError from '@fastify/error';

const AdminDisabledError = createError('ADMIN_DISABLED', 'the admin API is disabled: ADMIN_TOKEN is not set', 403);
const AdminUnauthorizedError = createError('ADMIN_UNAUTHORIZED', 'a valid admin bearer token is required', 401);

// Hashing both sides first gives equal-length buffers, so the comparison leaks not even the length.
const digest = (s: string) => createHash('sha256').update(s).digest();

/** An onRequest hook for admin routes: `Authorization: Bearer <ADMIN_TOKEN>`; refuses all when unset. */
export function adminAuth(adminToken: string | undefined) {
  const expected = adminToken === undefined ? undefined : digest(adminToken);
  return async function checkAdminToken(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!expected) throw new AdminDisabledError();
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]!.trim()), expected)) {
      reply.header('www-authenticate', 'Bearer realm="contact-bridge admin"');
      throw new AdminUnauthorizedError();
    }
  };
}
