// What every unknot BullMQ worker shares: its own Redis connection (closed again on stop), the service prefix,
// and failures logged rather than thrown.
import { Worker, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AppContext } from '../src/app/context.js';
import type { QueueName } from '../src/queues/queues.js';

export class QueueWorker<T> {
  private worker?: Worker<T>;
  private connection?: Redis;

  constructor(
    private readonly ctx: AppContext,
    private readonly queue: QueueName,
    private readonly processor: Processor<T>,
    private readonly concurrency: number,
  ) {}

  async start(): Promise<void> {
    const { ctx, queue } = this;
    this.connection = ctx.redis.duplicate();
    this.worker = new Worker<T>(queue, this.processor, {
      connection: this.connection,
      prefix: ctx.config.redis.prefix,
      concurrency: this.concurrency,
    });
    this.worker.on('failed', (job, err) =>
      ctx.log.warn({ queue, jobId: job?.id, err: err.message, attempts: job?.attemptsMade }, 'job failed'),
    );
    this.worker.on('error', (err) => ctx.log.error({ queue, err: err.message }, 'worker error'));
    await this.worker.waitUntilReady();
  }

  async stop(): Promise<void> {
    await this.worker?.close();
    await this.connection?.quit().catch(() => this.connection?.disconnect());
  }
}
