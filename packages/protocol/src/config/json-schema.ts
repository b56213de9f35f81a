import { z } from 'zod'
import { CloudConfig } from './cloud.js'
import { NodeConfig } from './node.js'
import { SimConfig } from './sim.js'

/** JSON Schemas of the config files (for editors), generated from the zod schemas: name → schema. */
export function configJsonSchemas(): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, schema] of Object.entries({ node: NodeConfig, cloud: CloudConfig, sim: SimConfig }))
    out[name] = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' })
  return out
}
