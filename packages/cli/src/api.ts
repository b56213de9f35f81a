import { type ErrorData, FoglineError } from '@fogline/protocol'
import { badFlag } from './util.js'

/** The cloud API's base URL: --url, else $FOGLINE_URL, else http://127.0.0.1:8080. */
export function cloudUrl(flag: string | undefined): string {
  const url = (flag ?? process.env.FOGLINE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '')
  if (!/^https?:\/\//.test(url))
    throw badFlag('--url', `--url must start with http:// or https://, got "${url}"`)
  return url
}

/** The API token from --token or $FOGLINE_TOKEN (a flag shows in `ps`; the variable does not). */
export function apiToken(flag: string | undefined): string | undefined {
  return flag ?? process.env.FOGLINE_TOKEN ?? undefined
}

/** Authorization header for a token, if any. */
export function authHeader(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {}
}

/** Where and as whom the CLI talks to the cloud API. */
export interface ApiTarget {
  url: string
  token?: string | undefined
}

const isErrorData = (v: unknown): v is ErrorData =>
  !!v &&
  typeof v === 'object' &&
  typeof (v as ErrorData).code === 'string' &&
  typeof (v as ErrorData).message === 'string'

/**
 * One call to the cloud API. A cloud that cannot be reached is FOG_UPLINK_UNAVAILABLE; an error answer
 * (`{ error: { code, message, where } }`) is thrown as that FoglineError (FOG_AUTH_REQUIRED, FOG_FORBIDDEN …).
 * @example const nodes = await callApi<NodeView[]>({ url, token }, 'GET', '/api/nodes')
 */
export async function callApi<T = unknown>(
  api: ApiTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<T> {
  const base = api.url
  let res: Response
  try {
    res = await fetch(`${base}${path}`, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        ...authHeader(api.token),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
  } catch (cause) {
    const why = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as Error).message
    throw new FoglineError(
      'FOG_UPLINK_UNAVAILABLE',
      `cannot reach the cloud API at ${base} (${why})`,
      { url: base },
      { cause },
    )
  }
  const json = (await res.json().catch(() => null)) as { error?: unknown } | null
  if (res.ok) return json as T
  const e = json?.error
  if (isErrorData(e)) throw new FoglineError(e.code, e.message, e.where ?? {})
  throw new FoglineError('FOG_INTERNAL', `${base}${path} answered HTTP ${res.status} ${res.statusText}`, {
    url: `${base}${path}`,
  })
}
