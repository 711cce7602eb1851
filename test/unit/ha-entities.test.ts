// The entity-id rule of Home Assistant discovery (docs/integrations/home-assistant.md#entity-ids), pure.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ID_PATTERN } from '../../src/domain/types.js';
import { ENTITIES, entityBase, entityIdOf, haSlug, VALID_ENTITY_ID } from '../../src/mqtt/ha-entities.js';

describe('haSlug (Home Assistant slugify for unknot ids)', () => {
  it('lower-cases, turns every run of other characters into one _, trims _ and says unknown for nothing', () => {
    // python-slugify with separator "_", as homeassistant.util.slugify calls it.
    expect(haSlug('ana-maria')).toBe('ana_maria');
    expect(haSlug('Ana_Maria')).toBe('ana_maria');
    expect(haSlug('Bo_')).toBe('bo');
    expect(haSlug('_x')).toBe('x');
    expect(haSlug('a--__-b')).toBe('a_b');
    expect(haSlug('ABC123')).toBe('abc123');
    expect(haSlug('-_-')).toBe('unknown');
  });
});

describe('entity ids', () => {
  const userId = fc.stringMatching(ID_PATTERN);

  it('are valid Home Assistant entity ids for every user id unknot accepts', () => {
    fc.assert(
      fc.property(userId, (id) => {
        for (const e of ENTITIES) expect(entityIdOf(e.component, id, e.object)).toMatch(VALID_ENTITY_ID);
      }),
      { numRuns: 500 },
    );
  });

  it('keep an id that is a slug already, and tell apart ids that slug alike', () => {
    expect(entityBase('ana_maria')).toBe('ana_maria');
    expect(entityBase('bo2')).toBe('bo2');
    const alike = ['ana_maria', 'ana-maria', 'Ana_Maria', 'ANA-MARIA', 'ana__maria', '_ana_maria_'];
    expect(new Set(alike.map(entityBase)).size).toBe(alike.length);
    for (const id of alike.slice(1)) expect(entityBase(id)).toMatch(/^ana_maria_[0-9a-f]{6}$/);
    // The same id, the same entity ids, every time.
    expect(entityBase('ana-maria')).toBe(entityBase('ana-maria'));
  });

  it('differ for different user ids', () => {
    fc.assert(
      fc.property(userId, userId, (a, b) => {
        fc.pre(a !== b);
        expect(entityBase(a)).not.toBe(entityBase(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('the check itself refuses what Home Assistant refuses', () => {
    for (const bad of ['sensor.Ana', 'sensor._x', 'sensor.x_', 'sensor.a__b', 'sensor.ana-maria', 'sensor'])
      expect(bad).not.toMatch(VALID_ENTITY_ID);
  });
});
