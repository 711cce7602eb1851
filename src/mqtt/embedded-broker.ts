// The zero-setup broker for one machine (Aedes, MQTT 3.1.1, no shared subscriptions) used when MQTT_URL is unset.
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from '../logger.js';

export class EmbeddedBroker {
  private broker?: Aedes;
  private server?: Server;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly log: Logger,
  ) {}

  get url() {
    return `mqtt://${this.host}:${this.port}`;
  }

  async start(): Promise<void> {
    this.broker = await Aedes.createBroker({ queueLimit: 100_000 });
    const server = createServer((socket) => {
      socket.setNoDelay(true);
      this.broker!.handle(socket);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.log.info({ url: this.url }, 'embedded MQTT broker listening');
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (this.broker ? this.broker.close(() => resolve()) : resolve()));
  }
}
