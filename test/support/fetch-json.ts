// fetch() against a running unknot for tests: JSON in and out, the bearer token added, a timeout so a hung
// request fails the test instead of hanging it.
export interface FetchJsonResult {
  status: number;
  /** Parsed JSON when the body is JSON, else the text ('' for no body). */
  body: unknown;
  headers: Headers;
}

export type FetchJsonInit = RequestInit & { json?: unknown };

export async function fetchJsonFrom(
  baseUrl: string,
  token: string | undefined,
  path: string,
  init: FetchJsonInit = {},
): Promise<FetchJsonResult> {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
  if (json !== undefined) {
    headers.set('content-type', 'application/json');
    rest.body = JSON.stringify(json);
  }
  const send = () =>
    fetch(new URL(path, baseUrl), { ...rest, headers, signal: rest.signal ?? AbortSignal.timeout(15_000) });
  let response: Response;
  try {
    response = await send();
  } catch (err) {
    // fetch keeps connections alive and drops one idle for ~4 s, the server one idle for 5 s. On a loaded machine
    // the client's timer can fire late and a request go out on a socket the server is closing ("other side
    // closed", seen ~1 run in 7 of the MQTT fuzz): what any HTTP client does then is send an idempotent request
    // again, on a new connection. Anything else (and a second failure) is the test's failure.
    const idempotent = ['GET', 'HEAD'].includes((rest.method ?? 'GET').toUpperCase());
    if (!idempotent || !isStaleSocket(err)) throw err;
    response = await send();
  }
  const text = await response.text();
  let body: unknown = text;
  if (text !== '') {
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      body = text;
    }
  }
  return { status: response.status, body, headers: response.headers };
}

/** undici's error for a kept-alive socket the server closed under it (UND_ERR_SOCKET "other side closed"). */
function isStaleSocket(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code === 'UND_ERR_SOCKET' && /other side closed/.test(cause.message ?? '');
}
