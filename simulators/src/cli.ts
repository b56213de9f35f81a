import { parseArgs } from 'node:util'
import { FoglineError, loadConfigFile, SimConfig } from '@fogline/protocol'
import { startSimulators } from './runner.js'

const USAGE =
  "usage: fogline sim --config FILE [--url mqtt://HOST:PORT] [--duration SECONDS] [--status SECONDS]\n  --url overrides the scenario's broker url (e.g. a fog node on another port)"

/**
 * `fogline sim --config F [--duration S]`: run a scenario, print a status line every few seconds, stop on Ctrl-C.
 * Returns the exit code: 0 ok, 2 usage or config error (printed as code + sentence, no stack), 1 other failure.
 */
export async function run(argv: string[]): Promise<number> {
  let values: {
    config?: string | undefined
    url?: string | undefined
    duration?: string | undefined
    status?: string | undefined
    help?: boolean | undefined
  }
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        url: { type: 'string' },
        duration: { type: 'string', short: 'd' },
        status: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }))
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`)
    return 2
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (!values.config) {
    process.stderr.write(`--config is required\n${USAGE}\n`)
    return 2
  }
  const duration = values.duration === undefined ? undefined : Number(values.duration)
  const every = values.status === undefined ? 5 : Number(values.status)
  if ((duration !== undefined && !(duration > 0)) || !(every > 0)) {
    process.stderr.write(`--duration and --status take a positive number of seconds\n${USAGE}\n`)
    return 2
  }
  try {
    const config = loadConfigFile(SimConfig, values.config)
    if (values.url !== undefined) {
      if (!/^mqtts?:\/\/[^/]+/.test(values.url)) {
        process.stderr.write(
          `fogline: error FOG_CONFIG_INVALID field --url: not an mqtt:// URL: "${values.url}"\n${USAGE}\n`,
        )
        return 2
      }
      config.url = values.url
    }
    const sim = await startSimulators(config, {
      logger: { info: (m) => process.stdout.write(`${m}\n`), warn: (m) => process.stderr.write(`${m}\n`) },
    })
    const t0 = Date.now()
    let last = 0
    const status = setInterval(() => {
      const s = sim.stats()
      const secs = (Date.now() - t0) / 1000
      process.stdout.write(
        `sim ${secs.toFixed(0)}s: ${s.published} readings (${((s.published - last) / every).toFixed(0)}/s), ${s.malformed} malformed, ${s.errors} not sent, lag ${s.lagMs.toFixed(0)}ms\n`,
      )
      last = s.published
    }, every * 1000)
    let cleanup = () => {}
    await new Promise<void>((resolve) => {
      const timer = duration === undefined ? undefined : setTimeout(resolve, duration * 1000)
      const onSignal = () => resolve()
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      // whichever ends the run, remove the others so repeated runs (tests) do not leak listeners
      cleanup = () => {
        if (timer) clearTimeout(timer)
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      }
    })
    cleanup()
    clearInterval(status)
    await sim.stop()
    const s = sim.stats()
    process.stdout.write(
      `sim done: ${s.published} readings, ${s.malformed} malformed, ${Object.keys(s.bySensor).length} sensors\n`,
    )
    return 0
  } catch (e) {
    if (e instanceof FoglineError) {
      process.stderr.write(`${e.code}: ${e.message}${formatWhere(e)}\n`)
      return 2
    }
    process.stderr.write(`sim failed: ${(e as Error).message}\n`)
    return 1
  }
}

function formatWhere(e: FoglineError): string {
  const parts = Object.entries(e.where).map(([k, v]) => `${k}=${String(v)}`)
  return parts.length ? ` (${parts.join(', ')})` : ''
}
