// What a web page open in the user's browser must not be able to make unknot do (docs/operations/browser-security.md):
// answer under a name an attacker controls (DNS rebinding), accept a state-changing request from another origin
// (CSRF), or read a body that is not JSON (the "simple" cross-site requests a page may send without asking).
// One middleware ahead of every route, with or without a token: the token alone does not stop a rebound page.
import { isIP } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { parseHostValue, parseOrigin, type Config } from '../config.js';
import { InvalidInputError, UnknotError } from '../domain/types.js';

/** Methods a browser may send cross-site without consequence: they change nothing. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** `application/json` or any `<type>/<subtype>+json`, parameters (charset) allowed. */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const media = value.split(';')[0]!.trim().toLowerCase();
  return media === 'application/json' || /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+\+json$/.test(media);
}

/** 0.0.0.0 or :: (in any spelling): the listener answers on every address of the machine. */
export function isWildcardHost(host: string): boolean {
  if (host === '0.0.0.0') return true;
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return isIP(bare) === 6 && parseHostValue(`[${bare}]`)?.name === '[::]';
}

/** HTTP_HOST as a Host header would name it (IPv6 in brackets), or undefined when it is not a valid name. */
function listenerName(host: string): string | undefined {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return parseHostValue(isIP(bare) === 6 ? `[${bare}]` : bare)?.name;
}

export interface BrowserGuardOptions {
  http: Pick<Config['http'], 'host' | 'allowedHosts' | 'allowedOrigins'>;
  /** Told the error code of each refusal (a counter: an attack must not flood the log). */
  onRefused?: (code: string) => void;
}

export function browserGuard({ http, onRefused }: BrowserGuardOptions) {
  const wildcard = isWildcardHost(http.host);
  const ownNames = new Set(LOOPBACK_NAMES);
  const configured = wildcard ? undefined : listenerName(http.host);
  if (configured) ownNames.add(configured);
  const extraOrigins = new Set(http.allowedOrigins);

  /**
   * Whether the service answers for this Host. Its own names only on the port the request came in on (the real
   * port, also when HTTP_PORT=0 picked one); on a wildcard listener also any IP literal, on any port (a port
   * mapping may change it): a page can be rebound to our address only through a name it controls, never an IP.
   */
  const hostAllowed = (name: string, port: number, localPort: number | undefined): boolean => {
    if (ownNames.has(name) && port === localPort) return true;
    if (wildcard && isIP(name.replace(/^\[(.*)\]$/, '$1')) !== 0) return true;
    return http.allowedHosts.some((r) => r.name === name && (r.port === undefined || r.port === port));
  };

  /** Whether `origin` names this service: its host equals the Host header read as http or https (TLS proxy in front). */
  const sameOrigin = (origin: string, hostHeader: string): boolean => {
    const o = parseOrigin(origin);
    if (o === undefined) return false;
    const { host } = new URL(o);
    return ['http', 'https'].some((scheme) => {
      try {
        return new URL(`${scheme}://${hostHeader}`).host === host;
      } catch {
        return false;
      }
    });
  };

  return (req: Request, _res: Response, next: NextFunction) => {
    const refuse = (err: UnknotError) => {
      onRefused?.(err.code);
      next(err);
    };
    const hostHeader = req.headers.host;
    if (!hostHeader) return refuse(new InvalidInputError('missing_host', 'the request has no Host header'));
    const host = parseHostValue(hostHeader);
    if (!host || !hostAllowed(host.name, host.port ?? 80, req.socket.localPort)) {
      return refuse(
        new UnknotError(
          'unknown_host',
          `this service does not answer for Host ${JSON.stringify(hostHeader.slice(0, 100))}; add it to UNKNOT_HTTP_ALLOWED_HOSTS if it is yours`,
          'misdirected',
        ),
      );
    }

    if (!SAFE_METHODS.has(req.method)) {
      // A browser names the page that sent a request in Origin (always, for these methods), else in Referer.
      const origin = req.get('origin');
      const referer = req.get('referer');
      const from = origin ?? (referer !== undefined ? (parseOrigin(referer) ?? 'null') : undefined);
      if (from !== undefined) {
        if (!sameOrigin(from, hostHeader) && !extraOrigins.has(parseOrigin(from) ?? '')) {
          return refuse(
            new UnknotError(
              'foreign_origin',
              `a ${req.method} from the page at ${JSON.stringify(from.slice(0, 100))} is refused: state-changing requests must come from this service's own pages or an origin in UNKNOT_HTTP_ALLOWED_ORIGINS`,
              'forbidden',
            ),
          );
        }
      } else {
        // Neither header (curl, scripts, Home Assistant's rest_command): allowed, unless a browser says it is cross-site.
        const site = req.get('sec-fetch-site');
        if (site === 'cross-site' || site === 'same-site') {
          return refuse(
            new UnknotError('foreign_origin', `a ${req.method} the browser marks as ${site} is refused`, 'forbidden'),
          );
        }
      }
    }

    // No body but JSON: a page may send text/plain, a form or multipart cross-site without asking first, JSON never.
    // A body-less request without a content type (curl -X POST) reads as {}.
    const length = req.get('content-length');
    const hasBody = req.get('transfer-encoding') !== undefined || (length !== undefined && Number(length) !== 0);
    const type = req.get('content-type');
    if ((hasBody || (type !== undefined && !SAFE_METHODS.has(req.method))) && !isJsonContentType(type)) {
      return refuse(
        new UnknotError(
          'unsupported_media_type',
          `the request body must be JSON (content-type: application/json), not ${type === undefined ? 'a body without a content type' : JSON.stringify(type.slice(0, 100))}`,
          'unsupported_media_type',
        ),
      );
    }
    next();
  };
}
