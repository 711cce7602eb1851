// What each entry point under workers/ runs: the service with only that worker. src/main.ts never imports an entry
// point (it starts the worker units, workers/*-worker.ts), so there is no import cycle.
import { main, stopOnSignals } from '../src/main.js';

export async function runStandaloneWorker(name: 'nudges' | 'heat' | 'routines'): Promise<void> {
  try {
    const { stop, ctx } = await main({ roles: ['worker'], workers: [name] });
    stopOnSignals(stop, ctx.log);
  } catch (err) {
    process.stderr.write(
      `unknot: worker ${name} failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  }
}
