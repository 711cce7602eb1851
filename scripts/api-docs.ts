// Writes docs/reference/openapi.json and asyncapi.json from the code (npm run docs:api). With --check, writes
// nothing and exits 1 if the committed files are not current. test/unit/api-docs.test.ts checks the same.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAsyncApi } from '../src/http/api-docs/asyncapi.js';
import { buildOpenApi } from '../src/http/api-docs/openapi.js';

export const REFERENCE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../docs/reference');

/** The committed files' text: stable key order as built, two-space indent, final newline. */
export const apiDocumentFiles = (): Record<string, string> => ({
  'openapi.json': `${JSON.stringify(buildOpenApi(), null, 2)}\n`,
  'asyncapi.json': `${JSON.stringify(buildAsyncApi(), null, 2)}\n`,
});

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  let stale = 0;
  mkdirSync(REFERENCE_DIR, { recursive: true });
  for (const [name, text] of Object.entries(apiDocumentFiles())) {
    const file = join(REFERENCE_DIR, name);
    let old = '';
    try {
      old = readFileSync(file, 'utf8');
    } catch {
      // not written yet
    }
    if (old === text) continue;
    if (check) {
      stale += 1;
      console.error(`docs/reference/${name} is not current: run npm run docs:api`);
    } else {
      writeFileSync(file, text);
      console.log(`wrote docs/reference/${name}`);
    }
  }
  process.exit(stale ? 1 : 0);
}
