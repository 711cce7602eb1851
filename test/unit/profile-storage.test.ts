// Profiles are stored as their differences from the built-in defaults (issue 6: Redis per person); reading one
// back must give exactly the profile that was stored.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTRAINDICATIONS } from '../../src/domain/types.js';
import {
  compactProfile,
  defaultProfile,
  expandProfile,
  profileSchema,
  type Profile,
} from '../../src/domain/profile.js';

const roundTrip = (p: Profile) => expandProfile(JSON.parse(JSON.stringify(compactProfile(p))) as Partial<Profile>);

describe('profile storage', () => {
  it('stores a default profile as {} and only the fields that differ otherwise', () => {
    expect(compactProfile(defaultProfile())).toEqual({});
    const p = profileSchema.parse({
      breakAfterMinutes: 45,
      activeHours: { days: [1, 2, 3, 4, 5], start: '08:00', end: '18:00' },
    });
    expect(compactProfile(p)).toEqual({
      breakAfterMinutes: 45,
      activeHours: { days: [1, 2, 3, 4, 5], start: '08:00', end: '18:00' },
    });
    expect(roundTrip(p)).toEqual(p);
  });

  it('reads back every valid profile unchanged', () => {
    const input = fc.record(
      {
        timezone: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York'),
        breakAfterMinutes: fc.integer({ min: 10, max: 120 }),
        minBreakSeconds: fc.integer({ min: 30, max: 1800 }),
        maxNudges: fc.integer({ min: 1, max: 5 }),
        heat: fc.record({
          defaultMinutes: fc.integer({ min: 1, max: 10 }),
          maxMinutes: fc.integer({ min: 10, max: 20 }),
        }),
        contraindications: fc.subarray([...CONTRAINDICATIONS]),
        name: fc.string({ maxLength: 20 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(input, (raw) => {
        const p = profileSchema.parse(raw);
        expect(roundTrip(p)).toEqual(p);
      }),
    );
  });

  it('a profile stored whole (before compaction) reads back the same', () => {
    const p = profileSchema.parse({ snoozeMinutes: 15 });
    expect(expandProfile(JSON.parse(JSON.stringify(p)) as Profile)).toEqual(p);
  });

  it('the shared defaults cannot be changed through a profile read back', () => {
    const p = expandProfile({});
    expect(() => p.activeHours.days.push(8)).toThrow(TypeError);
    expect(defaultProfile().activeHours.days).toHaveLength(7);
  });
});
