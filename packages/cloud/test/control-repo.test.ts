import { join } from 'node:path'
import { type DesiredState, generateDesiredKeyPair, signDesired } from '@fogline/protocol'
import { POSTGRES_URL, postgresAvailable } from '@fogline/testkit'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type ControlRepo, openPostgresControlRepo, openSqliteControlRepo } from '../src/control/index.js'
import { tempDir } from './helpers.js'
import { pgSchema } from './pg.js'

const PG_URL = POSTGRES_URL
const keys = generateDesiredKeyPair()

const build = (target: DesiredState['target'], at: number) => (version: number) => {
  const doc: DesiredState = {
    version,
    target,
    createdAt: at,
    pipelines: [{ id: `v${version}`, input: ['a/+'] }],
  }
  return { doc, envelope: signDesired(doc, keys.privateKeyPem) }
}

/** One conformance suite for every ControlRepo implementation. */
function runControlRepoSuite(name: string, open: () => Promise<ControlRepo>, skip = false) {
  describe.skipIf(skip)(`control repo conformance: ${name}`, () => {
    async function repo() {
      const r = await open()
      onTestFinished(() => r.close())
      return r
    }

    it('numbers versions from one counter across node and group targets, also when created concurrently', async () => {
      const r = await repo()
      const made = await Promise.all([
        r.createVersion(build({ node: 'n1' }, 1), {}),
        r.createVersion(build({ group: 'g' }, 2), {}),
        r.createVersion(build({ node: 'n1' }, 3), { status: 'canary', rolloutId: 'r1' }),
        r.createVersion(build({ group: 'g' }, 4), {}),
      ])
      expect(made.map((m) => m.version).sort()).toEqual([1, 2, 3, 4])
      const v = await r.getVersion(made[0]!.version)
      expect(v?.envelope.sig).toBe(made[0]!.envelope.sig)
      expect(v?.doc).toEqual(made[0]!.doc)
      expect(await r.getVersion(99)).toBeNull()
      const forN1 = await r.listVersions({ node: 'n1', group: 'g' })
      expect(forN1.map((x) => x.version)).toEqual([4, 3, 2, 1])
      expect((await r.listVersions({ group: 'g' })).every((x) => 'group' in x.target)).toBe(true)
      // the newest *published* per target; the canary-held one does not count
      const latest = await r.latestPublished()
      const n1Version = made
        .filter((m) => 'node' in m.target && m.status === 'published')
        .map((m) => m.version)
      expect(latest.map((x) => x.version).sort()).toEqual(
        [
          Math.max(...n1Version),
          Math.max(...made.filter((m) => 'group' in m.target).map((m) => m.version)),
        ].sort(),
      )
      await r.setVersionStatus(made[2]!.version, 'stopped')
      expect((await r.getVersion(made[2]!.version))?.status).toBe('stopped')
    })

    it('keeps the latest report per node and version, and rollouts by id and group', async () => {
      const r = await repo()
      await r.putReport({
        nodeId: 'a',
        version: 1,
        status: 'applied',
        health: 'pending',
        reason: null,
        code: null,
        at: 10,
      })
      await r.putReport({
        nodeId: 'a',
        version: 1,
        status: 'applied',
        health: 'ok',
        reason: null,
        code: null,
        at: 20,
      })
      const rejectedB = {
        nodeId: 'b',
        version: 1,
        status: 'rejected' as const,
        health: null,
        reason: 'x',
        code: 'FOG_VERSION_REPLAY',
        at: 15,
      }
      await r.putReport({ ...rejectedB })
      const v1 = await r.listReports({ version: 1 })
      expect(v1).toHaveLength(2)
      expect(v1.find((x) => x.nodeId === 'a')).toMatchObject({ health: 'ok', at: 20 })
      // read back field for field as written
      expect(await r.listReports({ nodeId: 'b' })).toEqual([rejectedB])
      const ro = {
        id: 'r1',
        group: 'g',
        version: 1,
        canary: ['a'],
        state: 'canary' as const,
        timeoutMs: 5,
        startedAt: 1,
        updatedAt: 1,
        reason: null,
      }
      await r.putRollout(ro)
      await r.putRollout({ ...ro, state: 'stopped', updatedAt: 2, reason: 'why' })
      expect(await r.getRollout('r1')).toEqual({ ...ro, state: 'stopped', updatedAt: 2, reason: 'why' })
      expect(await r.getRollout('nope')).toBeNull()
      expect(await r.listRollouts({ group: 'g', state: 'stopped' })).toHaveLength(1)
      expect(await r.listRollouts({ state: 'canary' })).toHaveLength(0)
    })
  })
}

runControlRepoSuite('SQLite', async () => openSqliteControlRepo(join(tempDir(), 'cloud.db')))

const pgUp = await postgresAvailable()
if (!pgUp && process.env.CI)
  throw new Error('PostgreSQL at 127.0.0.1:5432 is required in CI for the control repo suite')
runControlRepoSuite(
  pgUp ? 'PostgreSQL' : 'PostgreSQL (skipped: no PostgreSQL at 127.0.0.1:5432)',
  async () => openPostgresControlRepo({ url: PG_URL, schema: pgSchema() }),
  !pgUp,
)
