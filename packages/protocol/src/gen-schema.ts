import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { CloudConfig, NodeConfig, SimConfig } from './config/index.js'

/** Writes configs/schema/*.schema.json from the zod schemas (run by `npm run schema`). */
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..')
const out = join(root, 'configs/schema')
mkdirSync(out, { recursive: true })
for (const [name, schema] of Object.entries({ node: NodeConfig, cloud: CloudConfig, sim: SimConfig })) {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' })
  writeFileSync(join(out, `${name}.schema.json`), `${JSON.stringify(json, null, 2)}\n`)
}
console.log(`wrote ${out}`)
