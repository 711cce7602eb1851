// What a wearable's activity or step count says about sitting (docs/integrations/wearables.md).
import type { Posture } from '../domain/types.js';

/**
 * Activity names, normalised (lower case, blanks and hyphens as `_`). Covers the Home Assistant companion app:
 * iOS `Stationary`, `Walking`, `Running`, `Cycling`, `Automotive`, `Unknown`; Android `still`, `walking`,
 * `running`, `on_foot`, `on_bicycle`, `in_vehicle`, `tilting`, `unknown`.
 */
const ACTIVITY_POSTURE: Readonly<Record<string, Posture>> = {
  walking: 'moving',
  running: 'moving',
  on_foot: 'moving',
  on_bicycle: 'moving',
  cycling: 'moving',
  // In a vehicle the person is not at the desk: a break from desk sitting, whatever the car seat says.
  automotive: 'away',
  in_vehicle: 'away',
};

/**
 * The posture an activity implies, or null when it says nothing about sitting: `still`/`stationary` fit
 * sitting and standing alike, `tilting` and `unknown` carry no information, and an unrecognised name is
 * treated the same way rather than as an error (new app versions add values).
 */
export function activityToPosture(activity: string): Posture | null {
  if (typeof activity !== 'string') return null;
  const key = activity
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
  return Object.hasOwn(ACTIVITY_POSTURE, key) ? (ACTIVITY_POSTURE[key] ?? null) : null;
}

/** Fewer steps than this in a period is fidgeting, however short the period. */
export const MIN_MOVING_STEPS = 10;
/** Walking pace is ~100 steps/min; 20/min averaged over the period means the person was up for a good part of it. */
export const MIN_MOVING_STEPS_PER_MINUTE = 20;

/**
 * Steps rule: a period counts as moving when it holds at least 10 steps AND averages at least 20 steps per
 * minute (count / (periodSeconds / 60) ≥ 20). Anything less says nothing (null): a few steps over an hour are
 * trips to the printer, not a break, and zero steps do not tell sitting from standing.
 */
export function stepsToPosture(count: number, periodSeconds: number): Posture | null {
  if (!Number.isFinite(count) || !Number.isFinite(periodSeconds) || periodSeconds <= 0) return null;
  if (count < MIN_MOVING_STEPS) return null;
  // Compare count * 60 with rate * seconds rather than dividing, so exact boundaries are not lost to rounding.
  return count * 60 >= MIN_MOVING_STEPS_PER_MINUTE * periodSeconds ? 'moving' : null;
}
