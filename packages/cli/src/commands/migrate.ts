import { MIGRATIONS, openStore, SCHEMA_VERSION } from '@fogline/cloud'
import { defineCommand } from '../args.js'
import { storeOf } from './token.js'

export const help = `Usage: fogline migrate [--config FILE | --store S] [--json]

Bring the cloud store's schema to this build's version (${SCHEMA_VERSION}). Every aggregator does the same
when it starts (under a PostgreSQL advisory lock, so replicas starting together apply each step once);
run it by hand to upgrade before a rollout. A store from an older build is upgraded in place, never
recreated; running it again changes nothing.

Options:
  -c, --config FILE   the cloud config whose store to migrate (default: ./.fogline/cloud.db)
  --store S           instead of --config: sqlite:PATH or a postgres:// URL
  --json              print {from, to, applied} as JSON
  -h, --help          this text
`

export const run = defineCommand(
  help,
  { config: { type: 'string', short: 'c' }, store: { type: 'string' }, json: { type: 'boolean' } },
  async (flags) => {
    // opening migrates (one transaction under the lock); closing right after leaves the store ready
    const store = await openStore(storeOf(flags))
    const m = store.migration
    await store.close()
    if (flags.json) process.stdout.write(`${JSON.stringify(m)}\n`)
    else if (m.applied.length === 0)
      process.stdout.write(`fogline migrate: the store is at version ${m.to}; nothing to do\n`)
    else {
      const names = m.applied.map((v) => `  ${v} ${MIGRATIONS.find((x) => x.version === v)?.name ?? ''}`)
      process.stdout.write(`fogline migrate: version ${m.from} -> ${m.to}, applied:\n${names.join('\n')}\n`)
    }
    return 0
  },
)
