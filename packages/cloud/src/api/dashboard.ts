import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fastifyStatic from '@fastify/static'
import { dashboardRoot, vendorFiles } from '@fogline/dashboard'
import type { FastifyInstance } from 'fastify'

const PLACEHOLDER = `<!doctype html><meta charset="utf-8"><title>Fogline cloud</title>
<h1>Fogline cloud</h1><p>The dashboard is not built into this install. The API is here:
<a href="/api/nodes">/api/nodes</a>, <a href="/api/summaries?limit=50">/api/summaries</a>,
<a href="/openapi.json">/openapi.json</a>, <a href="/metrics">/metrics</a>.</p>`

/**
 * Access rules of the dashboard's routes: its files are public (they hold no data; every data route asks for
 * a token), so the sign-in page can load.
 */
export function dashboardRules(): Record<string, 'public'> {
  const rules: Record<string, 'public'> = { 'GET /': 'public', 'GET /*': 'public' }
  for (const url of Object.keys(vendorFiles)) rules[`GET ${url}`] = 'public'
  return rules
}

/** The dashboard's static files at /, or a plain page naming the API where the dashboard is not built. */
export async function serveDashboard(app: FastifyInstance, root = dashboardRoot): Promise<void> {
  if (!existsSync(join(root, 'index.html'))) {
    app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(PLACEHOLDER))
    return
  }
  // uPlot straight from node_modules, so the page works even where the build did not copy it to public/vendor
  for (const [url, file] of Object.entries(vendorFiles)) {
    const type = file.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8'
    app.get(url, async (_req, reply) =>
      reply.type(type).header('cache-control', 'max-age=3600').send(readFileSync(file)),
    )
  }
  await app.register(fastifyStatic, { root, prefix: '/', index: ['index.html'] })
}
