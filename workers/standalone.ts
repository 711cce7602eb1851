// Lets each file under workers/ run on its own: the service with only that worker.
import { pathToFileURL } from 'node:url';

export const isEntryPoint = (url: string) => !!process.argv[1] && url === pathToFileURL(process.argv[1]).href;

export async function runStandaloneWorker(name: 'nudges' | 'heat' | 'routines'): Promise<void> {
  const { main } = await import('../src/main.js');
  await main({ roles: ['worker'], workers: [name] });
}
