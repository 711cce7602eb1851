// Reading the service's own /metrics: the Prometheus text format, counter deltas, and percentiles of a
// histogram delta by linear interpolation inside its buckets (so a percentile is only as fine as the buckets).

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class Scrape {
  constructor(
    readonly samples: Sample[],
    /** Date.now() when the scrape was answered. */
    readonly at: number,
  ) {}

  /** Sum of every series of `name` whose labels include `match`. */
  sum(name: string, match: Record<string, string> = {}): number {
    let total = 0;
    for (const s of this.samples) {
      if (s.name !== name) continue;
      if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.value;
    }
    return total;
  }

  /** Cumulative bucket counts of histogram `name`, ordered by upper bound (the last one is +Inf). */
  buckets(name: string): Array<{ le: number; count: number }> {
    const byLe = new Map<number, number>();
    for (const s of this.samples) {
      if (s.name !== `${name}_bucket` || s.labels.le === undefined) continue;
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      byLe.set(le, (byLe.get(le) ?? 0) + s.value);
    }
    return [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
  }
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseProm(text: string, at = Date.now()): Scrape {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[2]) for (const l of m[2].matchAll(LABEL)) labels[l[1]!] = l[2]!;
    const raw = m[3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name: m[1]!, labels, value });
  }
  return new Scrape(samples, at);
}

export interface HistogramDelta {
  count: number;
  sum: number;
  /** Non-cumulative counts per bucket, with the bucket's bounds. */
  buckets: Array<{ lo: number; hi: number; n: number }>;
}

/** What histogram `name` recorded between two scrapes of the same process. */
export function histogramDelta(before: Scrape | undefined, after: Scrape, name: string): HistogramDelta {
  const a = after.buckets(name);
  const b = new Map((before?.buckets(name) ?? []).map((x) => [x.le, x.count]));
  const buckets: HistogramDelta['buckets'] = [];
  let prevCum = 0;
  let lo = 0;
  for (const { le, count } of a) {
    const cum = count - (b.get(le) ?? 0);
    buckets.push({ lo, hi: le, n: cum - prevCum });
    prevCum = cum;
    lo = le;
  }
  return {
    count: after.sum(`${name}_count`) - (before?.sum(`${name}_count`) ?? 0),
    sum: after.sum(`${name}_sum`) - (before?.sum(`${name}_sum`) ?? 0),
    buckets,
  };
}

/** Adds histogram deltas of several processes (same buckets). */
export function mergeHistograms(parts: HistogramDelta[]): HistogramDelta {
  const first = parts[0];
  if (!first) return { count: 0, sum: 0, buckets: [] };
  return {
    count: parts.reduce((s, p) => s + p.count, 0),
    sum: parts.reduce((s, p) => s + p.sum, 0),
    buckets: first.buckets.map((bk, i) => ({ ...bk, n: parts.reduce((s, p) => s + (p.buckets[i]?.n ?? 0), 0) })),
  };
}

export interface BucketedQuantile {
  /** Seconds, linearly interpolated inside the bucket; the bucket's lower bound when it is the +Inf bucket. */
  value: number;
  /** True when the quantile fell in the +Inf bucket: the true value is above `value`. */
  overflow: boolean;
}

export function histogramQuantile(h: HistogramDelta, q: number): BucketedQuantile | null {
  const total = h.buckets.reduce((s, b) => s + b.n, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let cum = 0;
  for (const b of h.buckets) {
    if (b.n > 0 && cum + b.n >= rank) {
      if (b.hi === Infinity) return { value: b.lo, overflow: true };
      return { value: b.lo + ((rank - cum) / b.n) * (b.hi - b.lo), overflow: false };
    }
    cum += b.n;
  }
  const last = h.buckets[h.buckets.length - 1]!;
  return { value: last.lo, overflow: last.hi === Infinity };
}

/** Share of the observations at or below `le` seconds: exact when `le` is one of the bucket bounds. */
export function fractionAtOrBelow(h: HistogramDelta, le: number): number | null {
  const total = h.buckets.reduce((s, b) => s + b.n, 0);
  if (total <= 0) return null;
  let below = 0;
  for (const b of h.buckets) {
    if (b.hi <= le + 1e-12) below += b.n;
    else if (b.lo < le) below += (b.n * (le - b.lo)) / (b.hi - b.lo);
  }
  return below / total;
}
