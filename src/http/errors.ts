// The HTTP status of each kind of refusal: the one place the service's errors meet HTTP's numbers.
import type { ErrorKind } from '../domain/types.js';

export const STATUS_OF: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  misdirected: 421,
  unprocessable: 422,
  unavailable: 503,
};
