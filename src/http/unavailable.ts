// HTTP while Redis is away: answer 503 at once instead of waiting for it, and only when nothing was changed.
import type { NextFunction, Request, Response } from 'express';
import { UnavailableError } from '../domain/types.js';
import { isRedisUnavailable } from '../errors.js';

/** Seconds a client is asked to wait before trying again (Redis reconnects every 250 ms at most). */
export const UNAVAILABLE_RETRY_AFTER_S = 5;

/** 503 `unavailable`: the request was refused before anything was written (or its command never ran). */
export class RedisUnavailableError extends UnavailableError {
  constructor(detail = 'redis is unavailable; nothing was changed, try again shortly') {
    super('unavailable', detail);
  }
}

export const redisReady = (redis: { status: string }): boolean => redis.status === 'ready';

/**
 * Refuses every request with 503 while the shared Redis connection is not ready. Routes that can do something
 * useful without Redis (stopping a heat pad) are listed in `except` and check for themselves.
 */
export function requireRedis(redis: { status: string }, except: (req: Request) => boolean = () => false) {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (redisReady(redis) || except(req)) return next();
    next(new RedisUnavailableError());
  };
}

/** An ioredis connection error as the 503 the client sees; anything else unchanged. */
export function asUnavailable(err: unknown): unknown {
  return isRedisUnavailable(err)
    ? new RedisUnavailableError(
        `redis is unavailable (${(err as Error).message}); nothing was changed, try again shortly`,
      )
    : err;
}

/** Is this the heat pad stop (DELETE /api/users/{id}/heat), which has its own fallback without Redis? */
export const isHeatStop = (req: Request): boolean =>
  req.method === 'DELETE' && /^\/users\/[^/]+\/heat\/?$/.test(req.path);
