import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { type BrokerConfig, FoglineError, resolveSecrets } from '@fogline/protocol'
import { readAclFile } from './acl.js'
import type { BrokerOptions } from './broker.js'
import type { ListenerSpec } from './listeners.js'
import { readPasswordFile } from './passwd.js'

export interface BrokerOptionsFromConfig {
  /** the config file: relative paths (PEM, passwordFile, aclFile) resolve from its folder */
  file?: string | undefined
  /** `fogline demo`: plaintext passwords in the config are allowed */
  demo?: boolean | undefined
}

function readPem(path: string, field: string, file: string | undefined): Buffer {
  try {
    return readFileSync(path)
  } catch (cause) {
    throw new FoglineError(
      'FOG_CONFIG_NOT_FOUND',
      `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code}`,
      { ...(file ? { file } : {}), field },
      { cause },
    )
  }
}

/**
 * The broker options a node config asks for: PEM files, password file and ACL read, `env:` passwords resolved,
 * plaintext passwords refused outside the demo (FOG_CONFIG_INVALID naming `broker.users.NAME`).
 * @example startBroker({ ...brokerOptionsFromConfig(cfg.broker, { file }), clock, log, onMessage })
 */
export function brokerOptionsFromConfig(c: BrokerConfig, where: BrokerOptionsFromConfig = {}): BrokerOptions {
  const file = where.file
  const path = relativeTo(file)
  if (c.users && !where.demo)
    for (const [name, v] of Object.entries(c.users))
      if (!v.startsWith('env:'))
        throw new FoglineError(
          'FOG_CONFIG_INVALID',
          `a plaintext password in the config is refused outside the demo: put it in broker.passwordFile (fogline passwd FILE ${name}) or use env:NAME`,
          { ...(file ? { file } : {}), field: `broker.users.${name}` },
        )
  const listeners = c.listeners && brokerListenersFromConfig(c.listeners, 'broker.listeners', file)
  return {
    host: c.host,
    port: c.port,
    ...(listeners ? { listeners } : {}),
    maxPayload: c.maxPayload,
    ...(c.users ? { users: Object.fromEntries(resolveSecrets(c.users, 'broker.users', file)) } : {}),
    ...(c.passwordFile ? { passwords: readPasswordFile(path(c.passwordFile)) } : {}),
    ...(c.aclFile ? { acl: readAclFile(path(c.aclFile)) } : {}),
    limits: { ...c.limits },
    fastPath: c.fastPath,
  }
}

const relativeTo = (file: string | undefined) => (p: string) =>
  resolve(file ? dirname(resolve(file)) : process.cwd(), p)

/**
 * Listener specs from config listeners, PEM files read (paths relative to the config file's folder); a file
 * that cannot be read is FOG_CONFIG_NOT_FOUND naming `{field}[i].tls.cert|key|ca`.
 */
export function brokerListenersFromConfig(
  ls: NonNullable<BrokerConfig['listeners']>,
  field: string,
  file?: string,
): ListenerSpec[] {
  const path = relativeTo(file)
  return ls.map((l, i): ListenerSpec => {
    const at = `${field}[${i}].tls`
    return {
      type: l.type,
      host: l.host,
      port: l.port,
      path: l.path,
      requireCertificate: l.requireCertificate,
      identity: l.identity,
      ...(l.anonymous !== undefined ? { anonymous: l.anonymous } : {}),
      ...(l.tls
        ? {
            tls: {
              cert: readPem(path(l.tls.cert), `${at}.cert`, file),
              key: readPem(path(l.tls.key), `${at}.key`, file),
              ...(l.tls.ca ? { ca: readPem(path(l.tls.ca), `${at}.ca`, file) } : {}),
            },
          }
        : {}),
    }
  })
}
