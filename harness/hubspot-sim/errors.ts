/**
 * HubSpot's error bodies, byte for byte where we know them, so that code which reads `category`,
 * `policyName` or `message` (the official client's retry logic matches on the last two) behaves
 * against the simulator as it does against HubSpot.
 */

export interface HubSpotErrorBody {
  status: 'error';
  message: string;
  correlationId: string;
  category?: string;
  errorType?: string;
  policyName?: string;
  groupName?: string;
  context?: Record<string, string[]>;
  errors?: Array<{ message: string; context?: Record<string, string[]> }>;
  links?: Record<string, string>;
}

/** An error a handler throws; the server turns it into HubSpot's body with the request's correlation id. */
export class SimHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly category: string,
    message: string,
    readonly context?: Record<string, string[]>,
  ) {
    super(message);
  }

  body(correlationId: string): HubSpotErrorBody {
    const body: HubSpotErrorBody = { status: 'error', message: this.message, correlationId };
    if (this.context) body.context = this.context;
    body.category = this.category;
    return body;
  }
}

export function validationError(message: string): SimHttpError {
  return new SimHttpError(400, 'VALIDATION_ERROR', message);
}

/** What HubSpot answers for a search that pages past its 10,000-result window. */
export function searchWindowError(): SimHttpError {
  return new SimHttpError(400, 'VALIDATION_ERROR', 'There was a problem with the request.');
}

export function objectNotFound(id: string): SimHttpError {
  return new SimHttpError(404, 'OBJECT_NOT_FOUND', 'Object not found.  objectId are usually numeric.', { id: [id] });
}

export interface PropertyProblem {
  name: string;
  error: 'PROPERTY_DOESNT_EXIST' | 'READ_ONLY_VALUE' | 'INVALID_OPTION';
  message: string;
}

export function propertyValuesError(problems: PropertyProblem[]): SimHttpError {
  const detail = problems.map((p) => ({
    isValid: false,
    message: p.message,
    error: p.error,
    name: p.name,
    localizedErrorMessage: p.message,
  }));
  return new SimHttpError(400, 'VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify(detail)}`);
}

export function authenticationError(correlationId: string): HubSpotErrorBody {
  return {
    status: 'error',
    message:
      'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
    correlationId,
    category: 'INVALID_AUTHENTICATION',
  };
}

/** What HubSpot answers (401) an OAuth access token past its expiry. */
export function expiredAuthenticationError(correlationId: string, expiredMs: number): HubSpotErrorBody {
  return {
    status: 'error',
    message: `The OAuth token used to make this call expired ${Math.floor(expiredMs / 60_000)} minute(s) ago.`,
    correlationId,
    category: 'EXPIRED_AUTHENTICATION',
  };
}

/** What HubSpot answers (403) a token of the portal that was not granted the scope a call needs. */
export function missingScopesError(correlationId: string, requiredScope: string): HubSpotErrorBody {
  return {
    status: 'error',
    message:
      "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
    correlationId,
    errors: [{ message: 'One or more of the following scopes are required.', context: { requiredGranularScopes: [requiredScope] } }],
    links: { scopes: 'https://developers.hubspot.com/scopes' },
    category: 'MISSING_SCOPES',
  };
}

export type RateLimitPolicy = 'TEN_SECONDLY_ROLLING' | 'SECONDLY' | 'DAILY';

const RATE_LIMIT_MESSAGES: Record<RateLimitPolicy, string> = {
  TEN_SECONDLY_ROLLING: 'You have reached your ten_secondly_rolling limit.',
  // The official client retries search 429s by matching this exact sentence.
  SECONDLY: 'You have reached your secondly limit.',
  DAILY: 'You have reached your daily limit.',
};

export function rateLimitError(policy: RateLimitPolicy, correlationId: string, groupName?: string): HubSpotErrorBody {
  const body: HubSpotErrorBody = {
    status: 'error',
    message: RATE_LIMIT_MESSAGES[policy],
    errorType: 'RATE_LIMIT',
    correlationId,
    policyName: policy,
  };
  if (groupName) body.groupName = groupName;
  return body;
}

const SERVER_ERROR_MESSAGES: Record<number, string> = {
  500: 'internal error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function serverError(status: number, correlationId: string): HubSpotErrorBody {
  return { status: 'error', message: SERVER_ERROR_MESSAGES[status] ?? 'internal error', correlationId, category: 'INTERNAL_ERROR' };
}
