import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// src/ and dist/ are siblings, so the static folder is one level up from either
const here = dirname(fileURLToPath(import.meta.url))

/**
 * Absolute path of the dashboard's static folder (index.html, app.js, style.css).
 * @example await app.register(fastifyStatic, { root: dashboardRoot, prefix: '/' })
 */
export const dashboardRoot: string = join(here, '..', 'public')

function uplotDist(): string | undefined {
  try {
    const require = createRequire(import.meta.url)
    const dir = dirname(require.resolve('uplot/package.json'))
    const dist = join(dir, 'dist')
    return existsSync(join(dist, 'uPlot.esm.js')) ? dist : undefined
  } catch {
    return undefined
  }
}

const dist = uplotDist()

/**
 * Third-party files the page loads, by URL path → absolute file path. The cloud serves each one as is.
 * @example for (const [url, file] of Object.entries(vendorFiles)) app.get(url, (_q, r) => r.type(mime(file)).send(readFileSync(file)))
 */
export const vendorFiles: Readonly<Record<string, string>> = Object.freeze(
  dist
    ? {
        '/vendor/uPlot.esm.js': join(dist, 'uPlot.esm.js'),
        '/vendor/uPlot.min.css': join(dist, 'uPlot.min.css'),
      }
    : {},
)
