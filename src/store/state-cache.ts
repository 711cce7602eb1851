// The states this process last read or committed, per person, so that a posture event needs no GET. On a single
// Redis the cache is kept exact by Redis's client-side tracking (docs/development/benchmarks.md, "Ingest"): the
// shared connection asks Redis to report every write of a state key (BCAST), a connection of its own receives the
// reports, and a report that is not the echo of this process's own commit drops the person's entry. Without tracking (a Redis Cluster,
// a Redis that refuses CLIENT TRACKING, the reporting connection down) the entries are hints only: a change
// computed from one is still checked by the compare-and-set, and a "no change" is judged again on a fresh read.
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './redis.js';
import type { Keys } from './keys.js';
import type { UserState } from '../domain/user-state.js';

/** People whose state this process keeps (~1 KB each): past it the least recently used goes. */
export const KEPT_MAX = 50_000;

export interface Versioned {
  v: number;
  state: UserState;
}

/** A read or commit in flight: its result is kept only if nothing invalidated the person meanwhile. */
export interface Load {
  readonly userId: string;
  readonly epoch: number;
  readonly seq: number;
}

export class StateCache {
  /** True while every write of a state key by another connection is reported to this process. */
  private live = false;
  private epoch = 0;
  private seq = 0;
  private readonly kept = new Map<string, Versioned>();
  /**
   * Reports of this process's own commits still to come, per person. Redis reports a write made inside a script to
   * the connection that ran it even with NOLOOP (Redis 7.0), so tracking runs without NOLOOP and every commit that
   * writes a document expects exactly one report of its own; only reports beyond those drop the person.
   */
  private readonly echoes = new Map<string, number>();
  /** People with a read or commit in flight → how many, and the seq of their last invalidation meanwhile. */
  private readonly inflight = new Map<string, { n: number; invalidated: number }>();
  private sub?: Redis;
  private stopped = true;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** Are the kept states exact (tracking live), so that a "no change" judged on one needs no read? */
  get trusted(): boolean {
    return this.live;
  }

  get(userId: string): Versioned | undefined {
    return this.kept.get(userId);
  }

  has(userId: string): boolean {
    return this.kept.has(userId);
  }

  begin(userId: string): Load {
    const f = this.inflight.get(userId);
    if (f) f.n += 1;
    else this.inflight.set(userId, { n: 1, invalidated: -1 });
    return { userId, epoch: this.epoch, seq: this.seq };
  }

  /** The load is over: keep `value` (undefined: forget the person) unless an invalidation came meanwhile. */
  end(load: Load, value: Versioned | undefined): void {
    const f = this.inflight.get(load.userId);
    const invalidated = f ? f.invalidated > load.seq : false;
    if (f && --f.n === 0) this.inflight.delete(load.userId);
    if (value === undefined || invalidated || load.epoch !== this.epoch) {
      this.kept.delete(load.userId);
      return;
    }
    this.kept.delete(load.userId); // re-inserted last: the map's order is the least recently used first
    if (this.kept.size >= KEPT_MAX) this.kept.delete(this.kept.keys().next().value!);
    this.kept.set(load.userId, value);
  }

  /** A commit that writes the person's document is about to be sent: its own report is not someone else's write. */
  expectEcho(userId: string): void {
    this.echoes.set(userId, (this.echoes.get(userId) ?? 0) + 1);
  }

  /** The commit announced with expectEcho wrote nothing (its version had moved, or it failed): no report comes. */
  noEcho(userId: string): void {
    const n = this.echoes.get(userId) ?? 0;
    if (n <= 1) this.echoes.delete(userId);
    else this.echoes.set(userId, n - 1);
  }

  /** Redis reported a write of the person's state: this process's own commit's, or someone else's. */
  private reported(userId: string): void {
    const n = this.echoes.get(userId) ?? 0;
    if (n > 0) {
      this.noEcho(userId);
      return;
    }
    this.forget(userId);
  }

  /** Someone else changed the person's state (or may have). */
  forget(userId: string): void {
    this.kept.delete(userId);
    const f = this.inflight.get(userId);
    if (f) f.invalidated = ++this.seq;
  }

  /** Anything may have changed: nothing kept is used, nothing in flight is kept. */
  forgetAll(): void {
    this.epoch += 1;
    this.kept.clear();
    // A report still to come for a commit of before counts as someone else's: it drops what it names (safe).
    this.echoes.clear();
  }

  /**
   * Start client-side tracking (single Redis only). Failures are reported to `onError` and leave the cache
   * untrusted; the service works as before, one read more per unchanged event.
   */
  async start(onError: (err: Error) => void): Promise<void> {
    if (this.redis instanceof Cluster || !this.stopped) return;
    this.stopped = false;
    const main = this.redis;
    const sub = main.duplicate({
      // RESP2: Redis then sends the reports as Pub/Sub messages on __redis__:invalidate (to a RESP3 connection it
      // sends `invalidate` push frames, which this ioredis drops).
      protocol: 2,
      lazyConnect: true,
      autoResubscribe: false,
      connectionName: 'unknot-state-tracking',
    });
    this.sub = sub;
    const untrust = () => {
      this.live = false;
      this.forgetAll();
    };
    const enable = async () => {
      if (this.stopped || sub.status !== 'ready' || main.status !== 'ready') return;
      const id = this.subId;
      if (id === undefined) return;
      const prefixes = Array.from({ length: this.keys.partitions }, (_, n) => ['PREFIX', `${this.keys.tag(n)}:state:`]);
      await main.call('CLIENT', 'TRACKING', 'OFF');
      await main.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', id, 'BCAST', ...prefixes.flat());
      if (this.stopped || id !== this.subId) return;
      this.forgetAll();
      this.live = true;
    };
    const onMainClose = () => untrust();
    const onMainReady = () => void enable().catch(onError);
    main.on('close', onMainClose);
    main.on('ready', onMainReady);
    this.detach = () => {
      main.off('close', onMainClose);
      main.off('ready', onMainReady);
    };
    sub.on('error', (err) => onError(err));
    sub.on('close', () => {
      this.subId = undefined;
      untrust();
    });
    sub.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (channel.toString() !== '__redis__:invalidate') return;
      if (!Array.isArray(message)) {
        this.forgetAll(); // null: the database was flushed
        return;
      }
      for (const key of message as Buffer[]) {
        const k = key.toString();
        this.reported(k.slice(k.lastIndexOf(':') + 1));
      }
    });
    sub.on('ready', () => {
      void (async () => {
        const id = await sub.client('ID');
        await sub.subscribe('__redis__:invalidate');
        this.subId = id;
        await enable();
      })().catch(onError);
    });
    await sub.connect();
  }

  private subId?: number;
  private detach?: () => void;

  /** The Redis client id of the connection that receives the reports (undefined while it is down). */
  get reportingClientId(): number | undefined {
    return this.subId;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.live = false;
    this.forgetAll();
    this.detach?.();
    this.sub?.disconnect();
    this.sub = undefined;
    if (!(this.redis instanceof Cluster) && this.redis.status === 'ready') {
      await this.redis.call('CLIENT', 'TRACKING', 'OFF').catch(() => undefined);
    }
  }
}
