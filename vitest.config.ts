import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real Redis and MQTT for every run (docs/development/testing.md): see test/support/services.ts.
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    pool: 'forks',
    // The machines have 2 cores, but most test files spend their time waiting for (scaled) timers and other
    // processes: three at once took the suite from ~390 s to ~260 s here. Tests leave room for that load.
    maxWorkers: 3,
    retry: 0,
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-artifacts/vitest-report.json' },
  },
});
