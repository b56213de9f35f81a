import { randomBytes, scrypt } from 'node:crypto'
import { FoglineError, readUserFile } from '@fogline/protocol'
import { sameSecret } from './secret.js'

/**
 * A password file, one `user:$scrypt$N=16384,r=8,p=1$SALT$HASH` line per user (salt and hash base64), like
 * Mosquitto's `user:$7$…` lines but with node:crypto's scrypt (memory-hard, no extra dependency).
 * Lifecycle: parse (at start or reload) → verify (per CONNECT) → format (written by `fogline passwd`).
 */
export type PasswordFile = ReadonlyMap<string, string>

const COST = { N: 16384, r: 8, p: 1 } as const
const KEY_LEN = 32
const LINE = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/
// a user name may not hold ':' (the separator) nor MQTT wildcards, which would widen %u ACL patterns
const USER = /^[^:\s#+/]{1,128}$/

function derive(password: string | Buffer, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_LEN, { N, r, p, maxmem: 256 * N * r }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  )
}

/** A salted scrypt hash for a password file line. @example await hashPassword('s3cret') // '$scrypt$N=16384,…' */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt, COST.N, COST.r, COST.p)
  return `$scrypt$N=${COST.N},r=${COST.r},p=${COST.p}$${salt.toString('base64')}$${key.toString('base64')}`
}

// an unknown user still costs one scrypt, so the answer's timing does not tell which users exist
let decoy: Promise<string> | undefined

/**
 * Whether `password` matches the stored hash (constant-time compare). Unknown user: `hash` undefined → false,
 * after the same work as a known one.
 */
export async function verifyPassword(password: string | Buffer, hash: string | undefined): Promise<boolean> {
  decoy ??= hashPassword(randomBytes(12).toString('base64'))
  const m = LINE.exec(hash ?? (await decoy))
  if (!m) return false
  const key = await derive(password, Buffer.from(m[4]!, 'base64'), Number(m[1]), Number(m[2]), Number(m[3]))
  return sameSecret(key.toString('base64'), m[5]!) && hash !== undefined
}

/** Parse password-file text; a bad line is FOG_CONFIG_INVALID naming the file and line. */
export function parsePasswordFile(text: string, file = '<passwd>'): PasswordFile {
  const out = new Map<string, string>()
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const at = line.indexOf(':')
    const user = line.slice(0, at)
    const hash = line.slice(at + 1)
    if (at < 1 || !USER.test(user) || !LINE.test(hash))
      throw new FoglineError(
        'FOG_CONFIG_INVALID',
        'not a password line (want user:$scrypt$…, made by fogline passwd)',
        { file, line: i + 1 },
      )
    out.set(user, hash)
  })
  return out
}

/** Read and parse a password file. */
export function readPasswordFile(file: string): PasswordFile {
  return parsePasswordFile(readUserFile(file, 'the password file', { field: 'broker.passwordFile' }), file)
}

/** The password file's text, users in name order. */
export function formatPasswordFile(entries: PasswordFile): string {
  return [...entries.keys()]
    .sort()
    .map((u) => `${u}:${entries.get(u)}\n`)
    .join('')
}

/** Whether `name` may be a user in a password file (no ':', whitespace, '#', '+' or '/'). */
export function validUserName(name: string): boolean {
  return USER.test(name)
}
