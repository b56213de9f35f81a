import { describe, expect, it, onTestFinished } from 'vitest'
import { type AccessRepo, TokenService } from '../src/api/auth/index.js'

/**
 * The one conformance suite every AccessRepo (tokens and audit) runs: SQLite and PostgreSQL.
 * @example runAccessSuite('sqlite', async () => openSqliteAccessRepo(join(tempDir(), 'c.db')))
 */
export function runAccessSuite(name: string, factory: () => Promise<AccessRepo>): void {
  const open = async () => {
    const r = await factory()
    onTestFinished(() => r.close())
    return r
  }
  describe(`AccessRepo conformance: ${name}`, () => {
    it('stores only a hash: a token verifies, a changed token does not, a revoked token stops working', async () => {
      const repo = await open()
      let now = 1000
      const tokens = new TokenService(repo, () => now)
      const a = await tokens.create({ name: 'ops', role: 'operator' })
      expect(a.token).toMatch(/^fog_[A-Za-z0-9_-]{43}$/)
      expect(await tokens.verify(a.token)).toMatchObject({ name: 'ops', role: 'operator', revokedAt: null })
      expect(await tokens.verify(`${a.token.slice(0, -1)}${a.token.endsWith('A') ? 'B' : 'A'}`)).toBeNull()
      expect(JSON.stringify(await repo.listTokens())).not.toContain(a.token.slice(4))
      await expect(tokens.create({ name: 'ops', role: 'viewer' })).rejects.toMatchObject({
        code: 'FOG_API_BAD_REQUEST',
      })
      await expect(tokens.create({ name: 'x', role: 'root' })).rejects.toMatchObject({
        code: 'FOG_API_BAD_REQUEST',
      })
      now = 2000
      expect(await tokens.revoke('ops')).toMatchObject({ id: a.row.id, revokedAt: 2000 })
      expect(await tokens.verify(a.token)).toBeNull()
      expect(await tokens.revoke('ops')).toBeNull()
      // the name is free again once revoked; the list keeps both
      const b = await tokens.create({ name: 'ops', role: 'viewer' })
      expect(await tokens.revoke(b.row.id)).toMatchObject({ name: 'ops' })
      expect((await tokens.list()).map((t) => [t.name, t.revokedAt !== null])).toEqual([
        ['ops', true],
        ['ops', true],
      ])
    })

    it('keeps audit entries, newest first, filtered by action, token and time', async () => {
      const repo = await open()
      const entry = (at: number, action: string, tokenName: string, result = 'ok') => ({
        at,
        tokenName,
        role: 'operator',
        action,
        target: 'group:g',
        version: at,
        result,
        client: '127.0.0.1',
      })
      await repo.addAudit(entry(1, 'desired.create', 'alice'))
      await repo.addAudit(entry(2, 'rollout.start', 'bob', 'FOG_FORBIDDEN'))
      await repo.addAudit(entry(3, 'desired.create', 'bob'))
      expect((await repo.listAudit()).map((a) => a.at)).toEqual([3, 2, 1])
      expect((await repo.listAudit({ action: 'desired.create' })).map((a) => a.at)).toEqual([3, 1])
      expect((await repo.listAudit({ tokenName: 'bob', since: 3 })).map((a) => a.at)).toEqual([3])
      expect((await repo.listAudit({ limit: 1 }))[0]).toMatchObject({
        at: 3,
        tokenName: 'bob',
        action: 'desired.create',
        target: 'group:g',
        version: 3,
        result: 'ok',
        client: '127.0.0.1',
      })
    })
  })
}
