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
  const response = await fetch(new URL(path, baseUrl), {
    ...rest,
    headers,
    signal: rest.signal ?? AbortSignal.timeout(15_000),
  });
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
