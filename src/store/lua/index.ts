// The Lua scripts, read once at start from the .lua files beside this one (`npm run build` copies them to dist/).
import { readFileSync } from 'node:fs';

const read = (name: string) => readFileSync(new URL(`./${name}.lua`, import.meta.url), 'utf8');

export const COMMIT_STATE_LUA = read('commit-state');
export const CLAIM_DUE_LUA = read('claim-due');
