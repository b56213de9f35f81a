import type { KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import {
  type DesiredEnvelope,
  type DesiredState,
  type DesiredTarget,
  FoglineError,
  loadPrivateKey,
  signDesired,
} from '@fogline/protocol'
import { authHeader } from './api.js'

/** Default operator key file (`fogline keys generate` writes it). */
export const OPERATOR_KEY_FILE = 'fogline-operator.key.pem'

/** The operator's private key from --key, $FOGLINE_KEY or ./fogline-operator.key.pem. It never leaves this machine. */
export function loadOperatorKey(flag: string | undefined): KeyObject {
  const file = flag ?? process.env.FOGLINE_KEY ?? OPERATOR_KEY_FILE
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new FoglineError(
      'FOG_CONFIG_NOT_FOUND',
      `the operator key file cannot be read (make one with fogline keys generate): ${(cause as Error).message}`,
      { file, field: '--key' },
      { cause },
    )
  }
  try {
    return loadPrivateKey(text)
  } catch (err) {
    throw new FoglineError('FOG_CONFIG_INVALID', (err as Error).message, { file, field: '--key' })
  }
}

/** An API answer that was an error: its code and message (the caller prints it). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly where: Record<string, unknown>,
  ) {
    super(message)
  }
}

/** Call the cloud's JSON API with a token; ApiError on an error answer, FOG_UPLINK_UNAVAILABLE when unreachable. */
export async function callApi(
  base: string,
  token: string | undefined,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<any> {
  let res: Response
  try {
    res = await fetch(`${base}${path}`, {
      method,
      signal: AbortSignal.timeout(10_000),
      headers: {
        ...authHeader(token),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
  } catch (cause) {
    const why = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as Error).message
    throw new FoglineError('FOG_UPLINK_UNAVAILABLE', `cannot reach the cloud API at ${base} (${why})`, {
      url: base,
    })
  }
  const json = (await res.json().catch(() => null)) as any
  if (!res.ok)
    throw new ApiError(
      res.status,
      json?.code ?? `HTTP ${res.status}`,
      json?.message ?? res.statusText,
      json?.where ?? {},
    )
  return json
}

/**
 * Sign content for a target here, with the next version the cloud names, and send it with `post`; when
 * another operator took that version first (409 FOG_VERSION_REPLAY), sign again with the new next one.
 * @example await signAndSend(url, token, key, { group: 'line' }, { pipelines }, (env) => callApi(url, token, 'POST', '/api/desired', env))
 */
export async function signAndSend<T>(
  base: string,
  token: string | undefined,
  key: KeyObject,
  target: DesiredTarget,
  content: Omit<DesiredState, 'version' | 'target' | 'createdAt'>,
  post: (envelope: DesiredEnvelope) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const { version } = (await callApi(base, token, 'GET', '/api/desired/next')) as { version: number }
    const envelope = signDesired({ version, target, createdAt: Date.now(), ...content }, key)
    try {
      return await post(envelope)
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== 'FOG_VERSION_REPLAY' || attempt >= 5) throw err
    }
  }
}
