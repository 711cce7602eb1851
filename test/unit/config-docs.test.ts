// The environment table in docs/configuration.md is generated from the config schema (npm run docs:config):
// the committed page must be what the generator writes today, and no variable may go undocumented.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CONFIG_DOC, ConfigDocsError, renderEnvTable, withCurrentTable } from '../../scripts/gen-config-docs.js';

describe('generated configuration docs', () => {
  it('the committed docs/configuration.md is current (run npm run docs:config if not)', () => {
    const page = readFileSync(CONFIG_DOC, 'utf8');
    expect(withCurrentTable(page)).toBe(page);
  });

  it('refuses to render a variable without a description', () => {
    const schema = z.object({ DOCUMENTED: z.string().default('a'), NEW_THING: z.string().optional() });
    try {
      renderEnvTable(schema, { DOCUMENTED: { meaning: 'documented' } });
      expect.unreachable('a variable without a description was rendered');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigDocsError);
      expect((err as ConfigDocsError).code).toBe('undocumented_variable');
      expect((err as Error).message).toContain('NEW_THING');
      expect((err as Error).message).not.toContain('DOCUMENTED');
    }
  });

  it('takes a description from the schema itself, the default from the schema and the allowed values of an enum', () => {
    const schema = z.object({
      LEVEL: z.enum(['low', 'high']).default('low').describe('how loud'),
      PORT: z.string().default('99').transform(Number),
      SECRET: z.string().optional(),
    });
    const table = renderEnvTable(schema, {
      PORT: { meaning: 'a port' },
      SECRET: { unset: 'no auth', meaning: 'a secret' },
    });
    expect(table.split('\n').slice(2)).toEqual([
      '| `LEVEL` | `low` | how loud; one of `low`, `high` |',
      '| `PORT` | `99` | a port |',
      '| `SECRET` | unset: no auth | a secret |',
    ]);
  });

  it('refuses a page without the table markers', () => {
    expect(() => withCurrentTable('# Configuration\n')).toThrow(ConfigDocsError);
  });
});
