// zod results as unknot errors: one shape for a refused body or profile, whether it came over HTTP or MQTT.
import type { z } from 'zod';
import { InvalidInputError } from './types.js';

export const zodIssues = (err: z.ZodError) =>
  err.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code }));

export function parseBody<T extends z.ZodType>(schema: T, body: unknown, code: string): z.output<T> {
  const r = schema.safeParse(body ?? {});
  if (!r.success) {
    const first = r.error.issues[0];
    throw new InvalidInputError(
      code,
      `${first?.path.join('.') || 'body'}: ${first?.message ?? 'invalid'}`,
      zodIssues(r.error),
    );
  }
  return r.data;
}
