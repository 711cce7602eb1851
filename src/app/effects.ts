// What the orchestration of every feature shares about effects.
import type { LogEntry } from '../domain/types.js';

/** A state the orchestration should never reach (a bug, not bad input): logged and retried like a failed job. */
export class InvariantError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'InvariantError';
  }
}

/** The adherence entries among a transition's effects (sessions, heat and routines all use `{kind: 'log'}`). */
export const logsOf = (effects: ReadonlyArray<{ kind: string; entry?: unknown }>): LogEntry[] =>
  effects.flatMap((e) => (e.kind === 'log' ? [e.entry as LogEntry] : []));
