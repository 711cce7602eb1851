// Progress on stderr (stdout carries only the report): a bar redrawn in place on a terminal, a line every few
// seconds otherwise.

const WIDTH = 28;

export class Progress {
  private phase = 'starting';
  private detail = '';
  private fraction = 0;
  private timer?: NodeJS.Timeout;
  private lastLine = 0;
  private readonly t0 = Date.now();
  private readonly tty = !!process.stderr.isTTY;

  constructor(
    /** Epoch ms the whole run must end by; the bar shows how much of that budget is used. */
    private readonly deadline: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.draw(), this.tty ? 250 : 1000);
    this.timer.unref();
  }

  /** A new phase: printed on a line of its own. */
  begin(phase: string): void {
    this.phase = phase;
    this.detail = '';
    this.fraction = 0;
    this.clear();
    process.stderr.write(`[bench ${this.elapsed()}] ${phase}\n`);
    this.draw();
  }

  update(detail: string, fraction?: number): void {
    this.detail = detail;
    if (fraction !== undefined) this.fraction = Math.max(0, Math.min(1, fraction));
  }

  /** A message that must not be overwritten by the bar. */
  note(line: string): void {
    this.clear();
    process.stderr.write(`[bench ${this.elapsed()}] ${line}\n`);
    this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.clear();
  }

  private elapsed(): string {
    const s = Math.round((Date.now() - this.t0) / 1000);
    return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  }

  private clear(): void {
    if (this.tty) process.stderr.write('\r\x1b[2K');
  }

  private draw(): void {
    const budget = Math.max(1, this.deadline - this.t0);
    const used = Math.min(1, (Date.now() - this.t0) / budget);
    const filled = Math.round(this.fraction * WIDTH);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}]`;
    const line = `${bar} ${this.phase}${this.detail ? ` — ${this.detail}` : ''}  (${this.elapsed()}, ${Math.round(used * 100)}% of time budget)`;
    if (this.tty) {
      const cols = process.stderr.columns ?? 120;
      process.stderr.write(`\r\x1b[2K${line.slice(0, cols - 1)}`);
    } else if (Date.now() - this.lastLine >= 5000) {
      this.lastLine = Date.now();
      process.stderr.write(`${line}\n`);
    }
  }
}
