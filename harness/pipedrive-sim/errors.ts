/**
 * Pipedrive's error bodies, as its API sends them: `success: false`, an `error` text, the
 * `errorCode` and a pointer to the docs. The official client rejects with the body itself (its
 * error interceptor hands back `error.response.data`), so a caller sees exactly this.
 */
export interface PipedriveErrorBody {
  success: false;
  error: string;
  errorCode: number;
  error_info: string;
  data: null;
  additional_data: null;
}

const INFO = 'Please check developers.pipedrive.com for more information about Pipedrive API.';

export function errorBody(errorCode: number, error: string): PipedriveErrorBody {
  return { success: false, error, errorCode, error_info: INFO, data: null, additional_data: null };
}

/** An error a handler throws; the server answers it with Pipedrive's body. */
export class SimHttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }

  body(): PipedriveErrorBody {
    return errorBody(this.statusCode, this.message);
  }
}

export const badRequest = (message: string) => new SimHttpError(400, message);
export const notFound = (message: string) => new SimHttpError(404, message);

export const UNAUTHORIZED = () => errorBody(401, 'unauthorized access');
export const OVER_LIMIT = () => errorBody(429, 'Request over limit');
export const OVER_DAILY_BUDGET = () => errorBody(429, 'Daily API token budget exceeded');
