import { FoglineError } from '@fogline/protocol'
import type { Role } from './roles.js'

/** One API token as stored (never the token itself: only its hash, see tokens.ts). */
export interface TokenRow {
  id: string
  name: string
  role: Role
  createdAt: number
  revokedAt: number | null
}

/** One audited control action. `result` is 'ok' or the error code the caller got. */
export interface AuditRow {
  id: number
  at: number
  /** the token's name; null for a refused request without a usable token */
  tokenName: string | null
  role: string | null
  /** e.g. desired.create, rollout.start, demo.link, token.create, token.revoke */
  action: string
  target: string | null
  version: number | null
  result: string
  /** the client's address */
  client: string | null
}

export type AuditInput = Omit<AuditRow, 'id'>

export interface AuditQuery {
  action?: string | undefined
  tokenName?: string | undefined
  since?: number | undefined
  limit?: number | undefined
}

/**
 * Tokens and the audit log, beside the cloud store (the same SQLite file or PostgreSQL database).
 * Lifecycle: open → addToken / findToken / addAudit … → close.
 */
export interface AccessRepo {
  /** FOG_API_BAD_REQUEST when an active token already has this name */
  addToken(t: TokenRow & { hash: string }): Promise<void>
  /** the active token with this hash */
  findToken(hash: string): Promise<TokenRow | null>
  /** every token, active and revoked, newest first */
  listTokens(): Promise<TokenRow[]>
  /** revoke the active token with this id or name; null when there is none */
  revokeToken(idOrName: string, at: number): Promise<TokenRow | null>
  addAudit(a: AuditInput): Promise<void>
  /** newest first */
  listAudit(q?: AuditQuery): Promise<AuditRow[]>
  close(): Promise<void>
}

/** What a dialect gives the shared repo: one statement with `?` placeholders, and close. */
export interface AccessDb {
  all(sql: string, args: readonly unknown[]): Promise<Array<Record<string, unknown>>>
  close(): Promise<void>
}

/** Tables of both dialects; only the audit id column differs. */
export function accessSchema(dialect: 'sqlite' | 'postgres'): string[] {
  const serial = dialect === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY'
  return [
    `CREATE TABLE IF NOT EXISTS api_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
      hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL, revoked_at BIGINT)`,
    'CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL',
    `CREATE TABLE IF NOT EXISTS audit_log (id ${serial}, at BIGINT NOT NULL, token_name TEXT, role TEXT,
      action TEXT NOT NULL, target TEXT, version BIGINT, result TEXT NOT NULL, client TEXT)`,
    'CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at)',
  ]
}

type Row = Record<string, unknown>
const TOKEN_COLS = 'id, name, role, created_at, revoked_at'
const toToken = (r: Row): TokenRow => ({
  id: String(r.id),
  name: String(r.name),
  role: r.role as Role,
  createdAt: Number(r.created_at),
  revokedAt: r.revoked_at === null || r.revoked_at === undefined ? null : Number(r.revoked_at),
})
const orNull = <T>(v: unknown, f: (x: unknown) => T): T | null =>
  v === null || v === undefined ? null : f(v)
const toAudit = (r: Row): AuditRow => ({
  id: Number(r.id),
  at: Number(r.at),
  tokenName: orNull(r.token_name, String),
  role: orNull(r.role, String),
  action: String(r.action),
  target: orNull(r.target, String),
  version: orNull(r.version, Number),
  result: String(r.result),
  client: orNull(r.client, String),
})

/**
 * The access repo over any dialect: every query is written once here.
 * @example const repo = accessRepoOver(sqliteAccessDb(path))
 */
export function accessRepoOver(db: AccessDb): AccessRepo {
  const activeBy = (col: 'id' | 'name' | 'hash', v: string) =>
    db.all(`SELECT ${TOKEN_COLS} FROM api_tokens WHERE ${col} = ? AND revoked_at IS NULL`, [v])
  return {
    async addToken(t) {
      if ((await activeBy('name', t.name)).length > 0)
        throw new FoglineError('FOG_API_BAD_REQUEST', `an active token is already named "${t.name}"`, {
          field: 'name',
        })
      await db.all(
        'INSERT INTO api_tokens (id, name, role, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, NULL)',
        [t.id, t.name, t.role, t.hash, t.createdAt],
      )
    },
    async findToken(hash) {
      const r = (await activeBy('hash', hash))[0]
      return r ? toToken(r) : null
    },
    async listTokens() {
      return (await db.all(`SELECT ${TOKEN_COLS} FROM api_tokens ORDER BY created_at DESC, id`, [])).map(
        toToken,
      )
    },
    async revokeToken(idOrName, at) {
      const r = (await activeBy('id', idOrName))[0] ?? (await activeBy('name', idOrName))[0]
      if (!r) return null
      await db.all('UPDATE api_tokens SET revoked_at = ? WHERE id = ?', [at, r.id])
      return { ...toToken(r), revokedAt: at }
    },
    async addAudit(a) {
      await db.all(
        `INSERT INTO audit_log (at, token_name, role, action, target, version, result, client)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [a.at, a.tokenName, a.role, a.action, a.target, a.version, a.result, a.client],
      )
    },
    async listAudit(q = {}) {
      const parts: Array<[string, unknown]> = [
        ['action = ?', q.action],
        ['token_name = ?', q.tokenName],
        ['at >= ?', q.since],
      ]
      const used = parts.filter(([, v]) => v !== undefined)
      const where = used.length ? `WHERE ${used.map(([c]) => c).join(' AND ')}` : ''
      const limit = Math.min(Math.max(1, q.limit ?? 100), 10_000)
      const sql = `SELECT * FROM audit_log ${where} ORDER BY at DESC, id DESC LIMIT ?`
      return (await db.all(sql, [...used.map(([, v]) => v), limit])).map(toAudit)
    },
    close: () => db.close(),
  }
}
