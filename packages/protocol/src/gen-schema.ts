import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { configJsonSchemas } from './config/json-schema.js'

/** Writes configs/schema/*.schema.json from the zod schemas (run by `npm run schema`). */
const out = join(dirname(fileURLToPath(import.meta.url)), '../../../configs/schema')
mkdirSync(out, { recursive: true })
for (const [name, json] of Object.entries(configJsonSchemas()))
  writeFileSync(join(out, `${name}.schema.json`), `${JSON.stringify(json, null, 2)}\n`)
console.log(`wrote ${out}`)
