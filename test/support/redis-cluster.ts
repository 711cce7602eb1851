// A real Redis Cluster for the tests: 3 masters with one replica each, spawned from redis-server on free ports
// below 55536 (a node's cluster bus listens on its port + 10000), joined with `redis-cli --cluster create`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { killOnExit, REDIS_ARGS } from './services.js';

export interface ClusterNode {
  port: number;
  child: ChildProcess;
}

export interface TestRedisCluster {
  /** `127.0.0.1:p1,127.0.0.1:p2,…`: the value for REDIS_CLUSTER_NODES. */
  nodesSpec: string;
  nodes: ClusterNode[];
  /** The ports of the nodes that are masters now. */
  masters(): Promise<number[]>;
  /** SIGKILL one node (a fault test), as a crash would. */
  kill(port: number): void;
  stop(): Promise<void>;
}

/** Low, so that a replica takes over from a dead master within a few seconds. */
export const CLUSTER_NODE_TIMEOUT_MS = 1000;
const READY_TIMEOUT_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` ports p in [20000, 45535] with p and p + 10000 free (a random start, so parallel runs rarely collide). */
async function freeClusterPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  let p = 20_000 + Math.floor(Math.random() * 25_000);
  for (let tries = 0; ports.length < count && tries < 2000; tries++, p++) {
    if (p > 45_535) p = 20_000;
    if ((await portFree(p)) && (await portFree(p + 10_000))) ports.push(p);
  }
  if (ports.length < count) throw new Error('could not find free ports for a Redis Cluster');
  return ports;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out}`)),
    );
  });
}

/** Run `fn` on a one-off, non-retrying client of one cluster node, and close it again. */
async function withNode<T>(port: number, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

const clusterInfo = (port: number) => withNode(port, async (c) => (await c.call('CLUSTER', 'INFO')) as string);

export async function startRedisCluster(): Promise<TestRedisCluster> {
  const ports = await freeClusterPorts(6);
  const dir = await mkdtemp(join(tmpdir(), 'unknot-redis-cluster-'));
  const nodes: ClusterNode[] = [];
  const stop = async () => {
    await Promise.all(
      nodes.map(
        (n) =>
          new Promise<void>((resolve) => {
            if (n.child.exitCode !== null || n.child.signalCode !== null) return resolve();
            n.child.once('close', () => resolve());
            n.child.kill('SIGKILL');
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          ...REDIS_ARGS,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          String(CLUSTER_NODE_TIMEOUT_MS),
          '--dir',
          dir,
          '--daemonize',
          'no',
        ],
        { stdio: 'ignore' },
      );
      killOnExit(child);
      nodes.push({ port, child });
    }
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (const { port } of nodes) {
      for (;;) {
        try {
          await clusterInfo(port);
          break;
        } catch (err) {
          if (Date.now() > deadline)
            throw new Error(`redis-server on ${port} did not start: ${(err as Error).message}`, { cause: err });
          await sleep(100);
        }
      }
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
    for (const { port } of nodes) {
      while (!/cluster_state:ok/.test(await clusterInfo(port))) {
        if (Date.now() > deadline) throw new Error(`Redis Cluster node ${port} did not reach cluster_state:ok`);
        await sleep(100);
      }
    }
    const cluster: TestRedisCluster = {
      nodesSpec: ports.map((p) => `127.0.0.1:${p}`).join(','),
      nodes,
      masters: () => clusterMasters(ports[0]!, nodes),
      kill: (port) => nodes.find((n) => n.port === port)?.child.kill('SIGKILL'),
      stop,
    };
    // Every replica in sync, so that a failover test starts from a cluster that can take one.
    await waitForReplicas(nodes, deadline);
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

async function clusterMasters(_seed: number, nodes: ClusterNode[]): Promise<number[]> {
  const alive = nodes.filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  for (const n of alive) {
    try {
      const text = await withNode(n.port, async (c) => (await c.call('CLUSTER', 'NODES')) as string);
      return text
        .split('\n')
        .filter(
          (l) => / master /.test(` ${l.split(' ')[2]?.replace(/,/g, ' ')} `) && !/fail/.test(l.split(' ')[2] ?? ''),
        )
        .filter((l) => (l.split(' ')[8] ?? '') !== '') // masters that serve slots
        .map((l) => Number(/:(\d+)@/.exec(l)?.[1]));
    } catch {
      // try the next node
    }
  }
  return [];
}

async function waitForReplicas(nodes: ClusterNode[], deadline: number): Promise<void> {
  for (const { port } of nodes) {
    await withNode(port, async (c) => {
      for (;;) {
        const info = await c.info('replication');
        if (
          /role:master/.test(info)
            ? /connected_slaves:1/.test(info) && /state=online/.test(info)
            : /master_link_status:up/.test(info)
        )
          return;
        if (Date.now() > deadline) throw new Error(`Redis Cluster node ${port}: replication did not come up`);
        await sleep(100);
      }
    });
  }
}

/** A cluster client for a test's own checks (reads from masters, retries through a failover). */
export function clusterClient(nodesSpec: string): Cluster {
  const nodes = nodesSpec.split(',').map((hp) => ({ host: hp.split(':')[0]!, port: Number(hp.split(':')[1]) }));
  return new Cluster(nodes, {
    redisOptions: { maxRetriesPerRequest: 3 },
    retryDelayOnFailover: 200,
    maxRedirections: 64,
  });
}
