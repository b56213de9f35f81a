import type { KeyObject } from 'node:crypto'
import {
  type DesiredEnvelope,
  type DesiredState,
  type DesiredTarget,
  FoglineError,
  isFoglineError,
  loadPrivateKey,
  readUserFile,
  signDesired,
  systemClock,
} from '@fogline/protocol'
import { type ApiTarget, callApi } from './api.js'

/** Default operator key file (`fogline keys generate` writes it). */
export const OPERATOR_KEY_FILE = 'fogline-operator.key.pem'

/** The operator's private key from --key, $FOGLINE_KEY or ./fogline-operator.key.pem. It never leaves this machine. */
export function loadOperatorKey(flag: string | undefined): KeyObject {
  const file = flag ?? process.env.FOGLINE_KEY ?? OPERATOR_KEY_FILE
  const text = readUserFile(file, 'the operator key file (make one with fogline keys generate)', {
    field: '--key',
  })
  try {
    return loadPrivateKey(text)
  } catch (err) {
    throw new FoglineError('FOG_CONFIG_INVALID', (err as Error).message, { file, field: '--key' })
  }
}

/**
 * Sign content for a target here, with the next version the cloud names, and send it with `post`; when
 * another operator took that version first (409 FOG_VERSION_REPLAY), sign again with the new next one.
 * @example await signAndSend(api, key, { group: 'line' }, { pipelines }, (env) => callApi(api, 'POST', '/api/desired', env))
 */
export async function signAndSend<T>(
  api: ApiTarget,
  key: KeyObject,
  target: DesiredTarget,
  content: Omit<DesiredState, 'version' | 'target' | 'createdAt'>,
  post: (envelope: DesiredEnvelope) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const { version } = await callApi<{ version: number }>(api, 'GET', '/api/desired/next')
    const envelope = signDesired({ version, target, createdAt: systemClock.now(), ...content }, key)
    try {
      return await post(envelope)
    } catch (err) {
      if (!isFoglineError(err, 'FOG_VERSION_REPLAY') || attempt >= 5) throw err
    }
  }
}
