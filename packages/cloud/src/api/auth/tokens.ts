import { createHash, randomBytes } from 'node:crypto'
import { FoglineError } from '@fogline/protocol'
import type { AccessRepo, TokenRow } from './repo.js'
import { parseRole, type Role } from './roles.js'

const NAME = /^[A-Za-z0-9_.:-]{1,64}$/

/**
 * sha256 of the token, hex. A token is 256 random bits, so a fast hash is enough: nobody can search 2^256
 * preimages, and a slow KDF (scrypt, argon2) only protects low-entropy secrets such as passwords. A fast
 * hash also lets the lookup be an indexed equality, and costs microseconds per request instead of the
 * tens of milliseconds scrypt would cost on every API call (itself a denial-of-service lever).
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/**
 * API tokens: made here, stored hashed (the token itself is shown once and never stored), checked per request.
 * Lifecycle: create → verify per request → revoke.
 * @example const { token } = await tokens.create({ name: 'ci', role: 'viewer' }); fetch(url, { headers: { authorization: `Bearer ${token}` } })
 */
export class TokenService {
  constructor(
    private readonly repo: AccessRepo,
    private readonly now: () => number,
  ) {}

  async create(input: { name: string; role: Role | string }): Promise<{ token: string; row: TokenRow }> {
    const role = parseRole(input.role)
    if (!NAME.test(input.name))
      throw new FoglineError('FOG_API_BAD_REQUEST', `token name must be 1-64 of [A-Za-z0-9_.:-]`, {
        field: 'name',
      })
    const token = `fog_${randomBytes(32).toString('base64url')}`
    const row: TokenRow = {
      id: randomBytes(6).toString('hex'),
      name: input.name,
      role,
      createdAt: this.now(),
      revokedAt: null,
    }
    await this.repo.addToken({ ...row, hash: hashToken(token) })
    return { token, row }
  }

  /** The active token row for a presented token, or null (unknown or revoked). */
  async verify(token: string): Promise<TokenRow | null> {
    if (!/^fog_[A-Za-z0-9_-]{43}$/.test(token)) return null
    return this.repo.findToken(hashToken(token))
  }

  list(): Promise<TokenRow[]> {
    return this.repo.listTokens()
  }

  /** Revoke by id or name; null when no active token matches. */
  revoke(idOrName: string): Promise<TokenRow | null> {
    return this.repo.revokeToken(idOrName, this.now())
  }
}
