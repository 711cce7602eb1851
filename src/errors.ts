// Errors of the infrastructure, below every layer: the store, the MQTT gateway and the composition root share them.

/** A dependency that cannot be used (unreachable, refused credentials, unsafe settings): start-up stops with one line. */
export class InfraError extends Error {
  override name = 'InfraError';
}

/** Redis was away when the command was sent or it was lost with the connection: it did not (and will not) run. */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  return /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH/.test(
    err.message,
  );
}
