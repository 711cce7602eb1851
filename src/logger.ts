import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout; child loggers carry userId / deviceId / sessionId. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { svc: 'unknot' }, timestamp: pino.stdTimeFunctions.isoTime });
}
