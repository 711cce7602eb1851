// The Node version the suite runs on, and that the child processes it spawns (as test/support/service-process.ts
// does: process.execPath with the tsx loader) run on the same one. .ci/run sets UNKNOT_EXPECT_NODE_MAJOR for its
// Node 24 pass, so a PATH that silently fell back to the machine's Node fails here.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/service-process.js';

const run = promisify(execFile);

describe('runtime', () => {
  it('spawns service processes on the Node the suite runs on (and the one CI asked for)', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '-e', 'console.log(process.version)'], {
      cwd: REPO_ROOT,
    });
    const child = stdout.trim();
    console.log(`[unknot tests] node ${process.version}; spawned tsx child on node ${child}`);
    expect(child).toBe(process.version);
    const want = process.env.UNKNOT_EXPECT_NODE_MAJOR;
    if (want) expect(child.split('.')[0]).toBe(`v${want}`);
    expect(Number(child.slice(1).split('.')[0])).toBeGreaterThanOrEqual(20);
  });
});
