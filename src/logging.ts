import { pino, type DestinationStream, type Logger } from 'pino';

export const REDACTED = '[redacted]';

/**
 * Where credentials can appear in a log object. Talkdesk's `auth` is the customer's CRM
 * credentials, whatever its keys; admin and metrics calls carry bearer tokens. pino's paths are
 * exact (a `*` is one level), so the usual nestings are listed: a top-level field, one level down
 * (`{ body: { auth } }`), and the request and error shapes Fastify and HTTP clients produce.
 */
export const REDACT_PATHS = [
  'auth',
  '*.auth',
  'req.body.auth',
  'request.body.auth',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.Authorization',
  '*.headers.cookie',
  'err.config.headers.Authorization',
  'err.response.request.headers.authorization',
  'access_token',
  '*.access_token',
  'accessToken',
  '*.accessToken',
  'refresh_token',
  '*.refresh_token',
  'token',
  '*.token',
  'password',
  '*.password',
  'api_key',
  '*.api_key',
  'apiKey',
  '*.apiKey',
  'credentials',
  '*.credentials',
];

/**
 * The process's one logger, shared by the API (Fastify's `loggerInstance`) and the workers.
 * `destination` lets a test read what would have been written.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: REDACTED } };
  return destination ? pino(options, destination) : pino(options);
}
