// zod → JSON Schema for the interface documents: the very schema objects the routes and adapters validate with,
// so the documents cannot drift from what the service accepts.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export type JsonSchema = Record<string, unknown>;

/**
 * `io: 'input'` describes what a client may send (fields with defaults are optional); 'output' what the service
 * answers. draft-2020-12 is OpenAPI 3.1's dialect; AsyncAPI 3's default schema format follows draft-07.
 */
export function jsonSchema(
  schema: z.ZodType,
  io: 'input' | 'output',
  target: 'draft-2020-12' | 'draft-7' = 'draft-2020-12',
): JsonSchema {
  const out = z.toJSONSchema(schema, { io, target, unrepresentable: 'any' }) as JsonSchema;
  // The documents say their dialect once; a `$schema` in every embedded schema is noise.
  delete out.$schema;
  return out;
}

/** The package version, from package.json next to src/ (or next to dist/ in the image). */
export function packageVersion(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const file = join(here, up, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'unknot' && pkg.version) return pkg.version;
    }
  }
  return '0.0.0';
}

/** The error body every HTTP error and the MQTT error topic carry. */
export const errorBodySchema = z
  .object({
    error: z.string().describe('stable machine-readable code, e.g. invalid_profile, unknown_user, unauthorized'),
    detail: z.string().describe('one human-readable sentence'),
    issues: z
      .array(z.object({ path: z.string(), message: z.string(), code: z.string() }))
      .optional()
      .describe('the validation issues, when a body or query did not match its schema'),
  })
  .describe('{"error": code, "detail": sentence, "issues"?: [...]}');
