// What a connector can say went wrong, in terms the ingest and onboarding code act on.
// Each CRM's client translates its own responses into these.

/** The credentials were refused (401/403): stop ingesting the tenant until they are fixed. */
export class CrmUnauthorizedError extends Error {
  override name = 'CrmUnauthorizedError';
  readonly code = 'CRM_UNAUTHORIZED';
}

/**
 * An OAuth access token the CRM reports expired (HubSpot: 401, category EXPIRED_AUTHENTICATION).
 * Expected, not a refusal: a token the bridge holds is refreshed; a token Talkdesk manages is
 * replaced by the next one Talkdesk sends.
 */
export class CrmTokenExpiredError extends CrmUnauthorizedError {
  override name = 'CrmTokenExpiredError';
}

/** Too many requests: wait `retryAfterMs` before calling this account again. */
export class CrmRateLimitedError extends Error {
  override name = 'CrmRateLimitedError';
  readonly code = 'CRM_RATE_LIMITED';
  constructor(
    readonly retryAfterMs: number,
    message = `rate limited; retry in ${retryAfterMs} ms`,
  ) {
    super(message);
  }
}

/** 5xx, a reset, a timeout: the CRM is not answering right now; retry with backoff. */
export class CrmUnavailableError extends Error {
  override name = 'CrmUnavailableError';
  readonly code = 'CRM_UNAVAILABLE';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}
