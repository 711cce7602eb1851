// createAppContext (src/app/context.ts): BullMQ's queues run on a Redis connection of their own, and closing the
// queues closes it. On the shared connection, BullMQ defined its ~60 scripts, and ioredis copied every script of
// that connection into each pipeline it made for unknot's own commands.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { inProcess, type InProcess } from '../support/wired-parts.js';

let h: InProcess | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('createAppContext', () => {
  it('gives the queues a Redis connection of their own, which closing the queues closes', async () => {
    h = await inProcess('ctx-queues');
    const { ctx } = h;
    await ctx.queues.nudges.add('probe', { kind: 'sweep-all' }, { jobId: 'probe', delay: 60_000 });
    // The same Redis: the job the queue added is there for the shared connection to see.
    expect(await ctx.redis.exists(`${ctx.config.redis.prefix}:{q}:nudges:probe`)).toBe(1);
    // The shared connection carries unknot's scripts only.
    const scripts = Object.keys(ctx.redis.scriptsSet);
    expect(scripts.length).toBeGreaterThan(0);
    expect(scripts.filter((name) => !name.startsWith('unknot'))).toEqual([]);
    const own = await ctx.queues.nudges.getBackend().client;
    await ctx.queues.close();
    await vi.waitFor(() => expect(own.status).toBe('end'));
    expect(await ctx.redis.ping()).toBe('PONG');
  });
});
