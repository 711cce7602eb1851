// Multi-device fusion: one person's devices → one posture. Deterministic, documented in docs/concepts/fusion.md.
//
// 1. Seat sensors (role chair or desk) report a continuous state. A chair outranks a desk: when the user
//    has chair evidence, they sit exactly when some chair says sitting; a desk that still sees someone
//    while every chair is empty means "standing at the desk". Without chairs, any desk that says sitting
//    means sitting; otherwise the newest desk evidence (away, standing, moving) holds.
// 2. Wearables and hubs report moments (walking, steps, an explicit posture). The newest piece of evidence
//    decides between them and the seat: a watch that says walking after the desk sensor last reported
//    wins (the desk's lingering presence is stale); a seat report after the watch wins back.
// 3. Ties in time go to the seat sensors. No evidence at all is `unknown`.
import type { Posture, Role } from './types.js';

export interface Evidence {
  role: Role;
  posture: Posture;
  at: number;
}

export type FusedPosture = Posture | 'unknown';

const isSeat = (role: Role) => role === 'chair' || role === 'desk';

export function fuse(evidence: Readonly<Record<string, Evidence>>): FusedPosture {
  let seatAt = -Infinity;
  let chairSitting = false;
  let hasChair = false;
  let deskSitting = false;
  let latestChair: Evidence | undefined;
  let latestDesk: Evidence | undefined;
  let latestMoment: Evidence | undefined;

  for (const e of Object.values(evidence)) {
    if (isSeat(e.role)) {
      seatAt = Math.max(seatAt, e.at);
      if (e.role === 'chair') {
        hasChair = true;
        if (e.posture === 'sitting') chairSitting = true;
        if (!latestChair || e.at > latestChair.at) latestChair = e;
      } else {
        if (e.posture === 'sitting') deskSitting = true;
        if (!latestDesk || e.at > latestDesk.at) latestDesk = e;
      }
    } else if (!latestMoment || e.at > latestMoment.at) {
      latestMoment = e;
    }
  }

  let seat: FusedPosture = 'unknown';
  if (hasChair) {
    seat = chairSitting ? 'sitting' : deskSitting ? 'standing' : (latestChair?.posture ?? 'away');
  } else if (latestDesk) {
    seat = deskSitting ? 'sitting' : latestDesk.posture;
  }
  if (latestMoment && (seat === 'unknown' || latestMoment.at > seatAt)) return latestMoment.posture;
  return seat;
}
