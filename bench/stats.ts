// Percentiles of measured samples (exact, unlike the service's bucketed histograms).

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  min: number;
}

/** Percentile by linear interpolation between the closest ranks; `sorted` ascending. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function summarize(samples: number[]): Summary | null {
  if (samples.length === 0) return null;
  const sorted = Float64Array.from(samples).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
    min: sorted[0]!,
  };
}
