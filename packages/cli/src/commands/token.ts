import { openAccessRepo, ROLES, TokenService } from '@fogline/cloud'
import { CloudConfig, FoglineError, loadConfigFile, parseConfig, systemClock } from '@fogline/protocol'
import { defineCommand, stringFlags } from '../args.js'

export const help = `Usage: fogline token <create|list|revoke> [options]

Manage the cloud's API tokens. This command works on the cloud's store directly
(the SQLite file or PostgreSQL database of its config), so it runs on the cloud
machine and needs no token itself: that is how the first admin token is made.
Anyone who can open the store already holds everything a token protects.
With an admin token, the same is possible over HTTP: POST/GET /api/tokens, DELETE /api/tokens/ID.

  fogline token create --role viewer|operator|admin --name NAME   prints the token once
  fogline token list                                              names, roles, ids (never tokens)
  fogline token revoke ID|NAME

Options:
  -c, --config FILE   the cloud config whose store holds the tokens (default: ./.fogline/cloud.db)
  --store S           instead of --config: sqlite:PATH or a postgres:// URL
  --role R            with create: ${ROLES.join(', ')}
  --name N            with create: a name for the audit log (1-64 of A-Z a-z 0-9 _ . : -)
  --json              print JSON
  -h, --help          this text
`

/** The store named by --store (sqlite:PATH or a postgres:// URL) or by the --config file (migrate shares it). */
export function storeOf(values: { config?: string | undefined; store?: string | undefined }) {
  if (values.config && values.store)
    throw new FoglineError('FOG_CONFIG_INVALID', 'give --config or --store, not both', { field: '--store' })
  if (values.store) {
    if (values.store.startsWith('sqlite:')) return { sqlite: values.store.slice(7) }
    if (/^postgres(ql)?:\/\//.test(values.store)) return { postgres: values.store }
    throw new FoglineError('FOG_CONFIG_INVALID', '--store must be sqlite:PATH or postgres://…', {
      field: '--store',
    })
  }
  const config = values.config
    ? (loadConfigFile(CloudConfig, values.config) as CloudConfig)
    : (parseConfig(CloudConfig, {}) as CloudConfig)
  return config.store
}

export const run = defineCommand(
  help,
  {
    config: { type: 'string', short: 'c' },
    ...stringFlags('store', 'role', 'name'),
    json: { type: 'boolean' },
  },
  async (flags, [verb, arg]) => {
    if (!verb) {
      process.stdout.write(help)
      return 2
    }
    const repo = await openAccessRepo(storeOf(flags))
    try {
      const tokens = new TokenService(repo, () => systemClock.now())
      const audit = (action: string, target: string, result = 'ok') =>
        repo.addAudit({
          at: systemClock.now(),
          tokenName: 'local-cli',
          role: null,
          action,
          target,
          version: null,
          result,
          client: 'fogline token',
        })
      if (verb === 'create') return await create(tokens, flags, audit)
      if (verb === 'list') return await list(tokens, flags.json)
      if (verb === 'revoke') {
        if (!arg) throw new FoglineError('FOG_CONFIG_INVALID', 'revoke needs a token id or name', {})
        const row = await tokens.revoke(arg)
        if (!row) throw new FoglineError('FOG_API_NOT_FOUND', `no active token with id or name "${arg}"`, {})
        await audit('token.revoke', `token:${row.name}`)
        process.stdout.write(`revoked ${row.name} (${row.role}, id ${row.id})\n`)
        return 0
      }
      throw new FoglineError(
        'FOG_CONFIG_INVALID',
        `unknown token command "${verb}" (create, list, revoke)`,
        {},
      )
    } finally {
      await repo.close()
    }
  },
  { positionals: true },
)

async function create(
  tokens: TokenService,
  flags: { name?: string | undefined; role?: string | undefined; json?: boolean | undefined },
  audit: (action: string, target: string) => Promise<unknown>,
): Promise<number> {
  if (!flags.name || !flags.role)
    throw new FoglineError('FOG_CONFIG_INVALID', 'create needs --role and --name', { field: '--role' })
  const { token, row } = await tokens.create({ name: flags.name, role: flags.role })
  await audit('token.create', `token:${row.name}`)
  process.stdout.write(
    flags.json
      ? `${JSON.stringify({ ...row, token })}\n`
      : `token ${row.name} (${row.role}, id ${row.id}); shown once, keep it secret:\n${token}\n`,
  )
  return 0
}

async function list(tokens: TokenService, json: boolean | undefined): Promise<number> {
  const rows = await tokens.list()
  if (json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`)
  else
    for (const r of rows)
      process.stdout.write(
        `${r.id}  ${r.name.padEnd(20)} ${r.role.padEnd(8)} created ${new Date(r.createdAt).toISOString()}${r.revokedAt ? `  revoked ${new Date(r.revokedAt).toISOString()}` : ''}\n`,
      )
  return 0
}
