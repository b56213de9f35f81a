import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { FoglineError, type UplinkConfig } from '@fogline/protocol'
import type { IClientOptions } from 'mqtt'
import type { UplinkLogger } from './types.js'

/**
 * The TLS part of the cloud connection (mqtts:// and wss:// URLs): CA, client certificate and key read from
 * their PEM files (paths relative to the config file's folder), the server name to verify. Verification is
 * on unless `insecure: true` is written, which is logged as a warning at every start.
 */
export function uplinkTls(
  tls: UplinkConfig['tls'],
  where: { configFile?: string | undefined; logger?: UplinkLogger | undefined } = {},
): Partial<IClientOptions> {
  if (!tls) return {}
  const base = where.configFile ? dirname(resolve(where.configFile)) : process.cwd()
  const read = (which: 'ca' | 'cert' | 'key'): Buffer | undefined => {
    const p = tls[which]
    if (p === undefined) return undefined
    try {
      return readFileSync(resolve(base, p))
    } catch (cause) {
      throw new FoglineError(
        'FOG_CONFIG_NOT_FOUND',
        `cannot read ${resolve(base, p)}: ${(cause as NodeJS.ErrnoException).code}`,
        { ...(where.configFile ? { file: where.configFile } : {}), field: `uplink.tls.${which}` },
        { cause },
      )
    }
  }
  if (tls.insecure)
    where.logger?.warn(
      { field: 'uplink.tls.insecure' },
      "uplink.tls.insecure is set: the cloud's certificate is NOT verified; anyone on the path can pose as the cloud",
    )
  const ca = read('ca')
  const cert = read('cert')
  const key = read('key')
  return {
    rejectUnauthorized: !tls.insecure,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(tls.servername ? { servername: tls.servername } : {}),
  }
}
