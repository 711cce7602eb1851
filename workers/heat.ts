// Entry point: `tsx workers/heat.ts` (same environment as the service) runs the service with just this worker.
import { runStandaloneWorker } from './standalone.js';

await runStandaloneWorker('heat');
