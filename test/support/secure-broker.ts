// A private Mosquitto with TLS, passwords and ACLs for the security tests: certificates made with openssl in a
// temp dir, the broker started from the PATH on free ports, and a way to run unknot expecting it to refuse.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { freePort, killOnExit } from './services.js';

export interface Pki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA that signed nothing here: "the wrong CA". */
  otherCaCert: string;
}

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by that CA. */
export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'unknot-pki-'));
  const ca = (name: string) => {
    openssl(dir, [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    ]);
  };
  ca('ca');
  ca('other-ca');
  const leaf = (name: string, cn: string, ext: string) => {
    openssl(dir, [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    ]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ]);
  };
  leaf('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'unknot', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    otherCaCert: join(dir, 'other-ca.crt'),
  };
}

export interface Broker {
  dir: string;
  conf: string;
  child: ChildProcess;
  output(): string;
  /** Re-read the password file and ACL (SIGHUP). */
  reload(): void;
  stop(): Promise<void>;
}

/** Writes `mosquitto.conf` from `lines` into a fresh dir and starts Mosquitto; `waitFor` says when it is up. */
export async function startMosquitto(lines: (dir: string) => string[], waitFor: () => Promise<void>): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), 'unknot-secure-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  // As root, Mosquitto would switch to the `mosquitto` user and could not read our temp dirs (mode 0700).
  const asRoot = process.getuid?.() === 0 ? ['user root'] : [];
  writeFileSync(
    conf,
    `${[...asRoot, 'persistence false', 'max_queued_messages 1000000', 'log_dest stderr', 'log_type all', ...lines(dir)].join('\n')}\n`,
  );
  const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const broker: Broker = {
    dir,
    conf,
    child,
    output: () => out.split('\n').slice(-60).join('\n'),
    reload: () => void child.kill('SIGHUP'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited at start:\n${broker.output()}`);
    try {
      await waitFor();
      return broker;
    } catch (err) {
      if (Date.now() > deadline) {
        await broker.stop();
        throw new Error(`mosquitto did not come up: ${(err as Error).message}\n${out}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export { freePort };

/** An MQTT client that fails at once instead of retrying (for "this must be refused" checks too). */
export function connectOnce(url: string, opts: IClientOptions): Promise<MqttClient> {
  return connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5_000, clean: true, ...opts }, false);
}
