import { FoglineError } from '../errors.js'

/**
 * The passwords of a config map (`broker.users`, `broker.embedded.nodes`), with `env:NAME` values read from
 * the environment so the file need not hold them. A variable that is not set is FOG_CONFIG_INVALID naming
 * the field, e.g. `broker.users.sensor`.
 * @example resolveSecrets({ sensor: 'env:SENSOR_PW' }, 'broker.users', 'node.yaml')
 */
export function resolveSecrets(
  map: Record<string, string>,
  field: string,
  file?: string,
): Map<string, string> {
  const out = new Map<string, string>()
  for (const [name, v] of Object.entries(map)) {
    if (!v.startsWith('env:')) {
      out.set(name, v)
      continue
    }
    const env = v.slice(4)
    const val = process.env[env]
    if (val === undefined || val === '')
      throw new FoglineError(
        'FOG_CONFIG_INVALID',
        `${field}.${name} reads its password from the environment variable ${env}, which is not set`,
        { ...(file ? { file } : {}), field: `${field}.${name}` },
      )
    out.set(name, val)
  }
  return out
}

/**
 * pino redaction for every logger of node and cloud: whatever object a log line carries, these fields are
 * replaced (passwords, user maps, keys, tokens), so a secret reaches no log even at trace level.
 * @example pino({ level, redact: LOG_REDACT })
 */
export const LOG_REDACT = {
  paths: [
    'password',
    '*.password',
    '*.*.password',
    'users',
    '*.users',
    'nodes',
    '*.nodes',
    'key',
    '*.key',
    '*.*.key',
    'token',
    '*.token',
    'authorization',
    '*.authorization',
    '*.headers.authorization',
  ],
  censor: '[redacted]',
}
