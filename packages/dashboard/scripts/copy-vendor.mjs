// Copies uPlot into public/vendor so a plain static server (no vendorFiles wiring) serves it too.
// The copy is gitignored; the cloud can instead serve `vendorFiles` from @fogline/dashboard.
import { copyFileSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const dist = join(dirname(require.resolve('uplot/package.json')), 'dist')
const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'public', 'vendor')
mkdirSync(out, { recursive: true })
for (const f of ['uPlot.esm.js', 'uPlot.min.css']) copyFileSync(join(dist, f), join(out, f))
