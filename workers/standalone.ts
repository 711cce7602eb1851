// Lets each file under workers/ run on its own: the service with only that worker.
import { pathToFileURL } from 'node:url';

export const isEntryPoint = (url: string) => !!process.argv[1] && url === pathToFileURL(process.argv[1]).href;

/**
 * Starts the service with only this worker, in the background: the entry file (workers/<name>.ts) is itself imported
 * by src/main.ts, so awaiting main() from the entry's top-level await would leave that import waiting on it forever
 * (Node then exits with code 13 and no output). SIGTERM/SIGINT stop it cleanly, as they do `npm start`.
 */
export async function runStandaloneWorker(name: 'nudges' | 'heat' | 'routines'): Promise<void> {
  void import('../src/main.js')
    .then(async ({ main, stopOnSignals }) => {
      const { stop, ctx } = await main({ roles: ['worker'], workers: [name] });
      stopOnSignals(stop, ctx.log);
    })
    .catch((err: unknown) => {
      process.stderr.write(`unknot: worker ${name} failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
