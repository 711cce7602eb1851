// The interface documents validate with their ecosystems' own parsers, use the schemas the code validates with,
// and the committed copies under docs/reference are current.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from '@asyncapi/parser';
import { validate } from '@readme/openapi-parser';
import { describe, expect, it } from 'vitest';
import { apiDocumentFiles, REFERENCE_DIR } from '../../scripts/api-docs.js';
import { buildAsyncApi, DEFAULT_TOPIC_ROOTS } from '../../src/http/api-docs/asyncapi.js';
import { jsonSchema } from '../../src/http/api-docs/json-schema.js';
import { buildOpenApi } from '../../src/http/api-docs/openapi.js';
import { eventSchema } from '../../src/adapters/unknot.js';
import { profileSchema } from '../../src/domain/profile.js';
import { snoozeBodySchema } from '../../src/http/app.js';

type Doc = Record<string, any>;

/** AsyncAPI diagnostics at error (0) or warning (1) severity; hints about newer spec versions are not failures. */
async function asyncApiProblems(doc: unknown): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(JSON.stringify(doc));
  return diagnostics
    .filter((d) => Number(d.severity) <= 1)
    .map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`);
}

describe('OpenAPI document', () => {
  it('is valid OpenAPI 3.1 by @readme/openapi-parser', async () => {
    const r = await validate(structuredClone(buildOpenApi()) as never);
    expect(r.valid ? [] : r.errors).toEqual([]);
    expect(r.valid).toBe(true);
  });

  it('is refused by the same parser when it is broken (the check can fail)', async () => {
    const broken = structuredClone(buildOpenApi()) as Doc;
    broken.paths['/api/users/{userId}'].get.responses = 'none';
    const r = await validate(broken as never);
    expect(r.valid).toBe(false);
  });

  it('describes request bodies with the schemas the routes validate with', () => {
    const doc = buildOpenApi() as Doc;
    const body = (path: string, method: string) =>
      doc.paths[path][method].requestBody.content['application/json'].schema;
    expect(body('/api/users/{userId}', 'put')).toEqual(jsonSchema(profileSchema.strict(), 'input'));
    expect(body('/api/users/{userId}/snooze', 'post')).toEqual(jsonSchema(snoozeBodySchema, 'input'));
    // A limit a client would hit: snooze minutes 1–60, profile breakAfterMinutes 10–120.
    expect(body('/api/users/{userId}/snooze', 'post').properties.minutes).toMatchObject({ minimum: 1, maximum: 60 });
    expect(body('/api/users/{userId}', 'put').properties.breakAfterMinutes).toMatchObject({
      minimum: 10,
      maximum: 120,
      default: 30,
    });
  });

  it('gives every /api operation the bearer scheme and the error answers of the guards', () => {
    const doc = buildOpenApi() as Doc;
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.Error.required).toEqual(['error', 'detail']);
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, Doc>>)) {
      for (const [method, op] of Object.entries(methods)) {
        const codes = Object.keys(op.responses);
        expect(codes, `${method} ${path}`).toEqual(expect.arrayContaining(['403', '421']));
        if (path.startsWith('/api/')) {
          expect(op.security, `${method} ${path} is behind the token`).toBeUndefined();
          expect(codes, `${method} ${path}`).toEqual(expect.arrayContaining(['401', '415', '429', '503']));
        }
      }
    }
  });
});

describe('AsyncAPI document', () => {
  it('parses as AsyncAPI 3 with no errors or warnings from @asyncapi/parser', async () => {
    expect(await asyncApiProblems(buildAsyncApi())).toEqual([]);
    expect(await asyncApiProblems(buildAsyncApi({ base: 'home/unknot', z2m: 'z2m', haPrefix: 'ha' }))).toEqual([]);
  });

  it('is refused by the same parser when it is broken (the check can fail)', async () => {
    const broken = structuredClone(buildAsyncApi()) as Doc;
    broken.operations.send_userNudge.action = 'emit';
    expect((await asyncApiProblems(broken)).length).toBeGreaterThan(0);
  });

  it('describes device events with the schema the unknot adapter validates with, and notes QoS and retain', () => {
    const doc = buildAsyncApi() as Doc;
    expect(doc.components.messages.deviceEvent.payload).toEqual(jsonSchema(eventSchema, 'input', 'draft-7'));
    expect(doc.channels.userState.address).toBe('unknot/users/{userId}/state');
    expect(doc.operations.send_userState.bindings.mqtt).toMatchObject({ qos: 1, retain: true });
    expect(doc.operations.send_userNudge.bindings.mqtt).toMatchObject({ qos: 1, retain: false });
    expect(doc.operations.send_haConfig.bindings.mqtt).toMatchObject({ qos: 1, retain: true });
    expect(doc.channels.haConfig.address).toBe('homeassistant/{component}/{nodeId}/{objectId}/config');
  });

  it('names the configured topic roots', () => {
    const doc = buildAsyncApi({ ...DEFAULT_TOPIC_ROOTS, base: 'flat-7' }) as Doc;
    expect(doc.channels.deviceEvent.address).toBe('flat-7/devices/{deviceId}/event');
    expect(doc.operations.receive_deviceEvent['x-unknot-filters']).toEqual(['flat-7/devices/+/event']);
  });
});

describe('committed documents', () => {
  it('docs/reference/*.json are what npm run docs:api writes now', () => {
    for (const [name, text] of Object.entries(apiDocumentFiles())) {
      const committed = readFileSync(join(REFERENCE_DIR, name), 'utf8');
      expect(committed === text, `docs/reference/${name} is stale: run npm run docs:api`).toBe(true);
    }
  });
});
