// The parsing the browser guard relies on: which Host values name what, which content types are JSON, which
// listeners are wildcards, and how the allowed-hosts and allowed-origins variables read.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseHostValue, parseOrigin } from '../../src/config.js';
import { isJsonContentType, isWildcardHost } from '../../src/http/browser-guard.js';
import { REPO_ROOT } from '../support/service-process.js';

describe('Host values', () => {
  it('reads names, IPv4 and bracketed IPv6 with an optional port, normalised as the URL parser writes them', () => {
    expect(parseHostValue('LocalHost:8080')).toEqual({ name: 'localhost', port: 8080 });
    expect(parseHostValue('unknot.lan')).toEqual({ name: 'unknot.lan' });
    expect(parseHostValue('[0:0:0:0:0:0:0:1]:80')).toEqual({ name: '[::1]', port: 80 });
    expect(parseHostValue('127.1:8080')).toEqual({ name: '127.0.0.1', port: 8080 });
  });

  it('refuses what is not a plain host and port: user info, paths, trailing dots, bad ports', () => {
    for (const bad of [
      '',
      'evil.example@127.0.0.1:8080',
      '127.0.0.1:8080/x',
      'localhost.',
      'localhost:99999',
      'a b',
      'http://x',
      '[::1',
      ':8080',
      'x:',
    ]) {
      expect(parseHostValue(bad), bad).toBeUndefined();
    }
  });
});

describe('content types', () => {
  it('application/json and any +json, with parameters, in any case; nothing else', () => {
    for (const t of [
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON',
      'application/merge-patch+json',
      'application/vnd.unknot.v1+json;charset=UTF-8',
    ]) {
      expect(isJsonContentType(t), t).toBe(true);
    }
    for (const t of [
      undefined,
      '',
      'text/plain',
      'text/json',
      'application/jsonx',
      'application/json-seq',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
      '+json',
      'json',
    ]) {
      expect(isJsonContentType(t), String(t)).toBe(false);
    }
  });
});

describe('wildcard listeners', () => {
  it('0.0.0.0 and :: in any spelling; named and specific addresses are not', () => {
    for (const h of ['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0']) expect(isWildcardHost(h), h).toBe(true);
    for (const h of ['127.0.0.1', '::1', 'localhost', '192.168.1.20', 'hub.local'])
      expect(isWildcardHost(h), h).toBe(false);
  });
});

describe('UNKNOT_HTTP_ALLOWED_HOSTS, UNKNOT_HTTP_ALLOWED_ORIGINS, UNKNOT_HTTP_FRAME_ANCESTORS', () => {
  it('read as comma lists, normalised; unset is empty', () => {
    const c = loadConfig(
      {
        UNKNOT_HTTP_ALLOWED_HOSTS: ' Unknot.LAN , proxy.example:8443,[fd00::5]',
        UNKNOT_HTTP_ALLOWED_ORIGINS: 'HTTPS://HA.example:8123/',
        UNKNOT_HTTP_FRAME_ANCESTORS: 'http://homeassistant.local:8123',
      },
      REPO_ROOT,
    );
    expect(c.http.allowedHosts).toEqual([
      { name: 'unknot.lan' },
      { name: 'proxy.example', port: 8443 },
      { name: '[fd00::5]' },
    ]);
    expect(c.http.allowedOrigins).toEqual(['https://ha.example:8123']);
    expect(c.http.frameAncestors).toEqual(['http://homeassistant.local:8123']);
    expect(loadConfig({}, REPO_ROOT).http).toMatchObject({ allowedHosts: [], allowedOrigins: [], frameAncestors: [] });
  });

  it('refuse a malformed entry with one line naming the variable and the entry', () => {
    for (const [name, value] of [
      ['UNKNOT_HTTP_ALLOWED_HOSTS', 'unknot.lan,http://x'],
      ['UNKNOT_HTTP_ALLOWED_ORIGINS', 'ha.example:8123'],
      ['UNKNOT_HTTP_ALLOWED_ORIGINS', 'https://ha.example/lovelace'],
      ['UNKNOT_HTTP_ALLOWED_ORIGINS', 'https://user@ha.example'],
      ['UNKNOT_HTTP_FRAME_ANCESTORS', "'self'"],
    ] as const) {
      expect(() => loadConfig({ [name]: value }, REPO_ROOT), `${name}=${value}`).toThrow(ConfigError);
      expect(() => loadConfig({ [name]: value }, REPO_ROOT)).toThrow(new RegExp(`^${name}: .*is not one of`));
    }
  });

  it('an origin is scheme, host and port only', () => {
    expect(parseOrigin('https://ha.example:443/x?y')).toBe('https://ha.example');
    expect(parseOrigin('null')).toBeUndefined();
    expect(parseOrigin('file:///etc/passwd')).toBeUndefined();
  });
});
