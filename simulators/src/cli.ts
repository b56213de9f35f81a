import { parseArgs } from 'node:util'
import { type Clock, FoglineError, loadConfigFile, SimConfig, systemClock } from '@fogline/protocol'
import { type Simulators, startSimulators } from './runner.js'

const USAGE =
  "usage: fogline sim --config FILE [--url mqtt://HOST:PORT] [--duration SECONDS] [--status SECONDS]\n  --url overrides the scenario's broker url (e.g. a fog node on another port)"

interface SimArgs {
  config: string
  url: string | undefined
  /** seconds; undefined runs until a signal */
  duration: number | undefined
  /** seconds between status lines */
  every: number
}

/** The command line, or the exit code when it is not one to run (help printed, usage error). */
function parseSimArgs(argv: string[]): SimArgs | number {
  let values: ReturnType<typeof parse>['values']
  const parse = (args: string[]) =>
    parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c' },
        url: { type: 'string' },
        duration: { type: 'string', short: 'd' },
        status: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    })
  try {
    ;({ values } = parse(argv))
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
  if (values.url !== undefined && !/^mqtts?:\/\/[^/]+/.test(values.url)) {
    process.stderr.write(
      `fogline: error FOG_CONFIG_INVALID field --url: not an mqtt:// URL: "${values.url}"\n${USAGE}\n`,
    )
    return 2
  }
  return { config: values.config, url: values.url, duration, every }
}

/** Resolves after `duration` seconds (never when undefined) or on SIGINT/SIGTERM, whichever comes first. */
async function runUntilStopped(duration: number | undefined, clock: Clock): Promise<void> {
  let onSignal = () => {}
  const signalled = new Promise<void>((resolve) => {
    onSignal = () => resolve()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  })
  let timer: unknown
  const timedOut =
    duration === undefined
      ? undefined
      : new Promise<void>((r) => (timer = clock.setTimeout(r, duration * 1000)))
  await Promise.race(timedOut ? [signalled, timedOut] : [signalled])
  // whichever ends the run, remove the others so repeated runs (tests) do not leak listeners
  if (timer !== undefined) clock.clearTimeout(timer)
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
}

/** Prints a status line every `every` seconds until the returned stop function is called. */
function printStatus(sim: Simulators, every: number, clock: Clock): () => void {
  const t0 = clock.now()
  let last = 0
  const status = clock.setInterval(() => {
    const s = sim.stats()
    const secs = (clock.now() - t0) / 1000
    process.stdout.write(
      `sim ${secs.toFixed(0)}s: ${s.published} readings (${((s.published - last) / every).toFixed(0)}/s), ${s.malformed} malformed, ${s.errors} not sent, lag ${s.lagMs.toFixed(0)}ms\n`,
    )
    last = s.published
  }, every * 1000)
  return () => clock.clearInterval(status)
}

/**
 * `fogline sim --config F [--duration S]`: run a scenario, print a status line every few seconds, stop on Ctrl-C.
 * Returns the exit code: 0 ok, 2 usage or config error (printed as code + sentence, no stack), 1 other failure.
 * The scenario's pacing is real time (systemClock) unless a clock is given.
 */
export async function run(argv: string[], clock: Clock = systemClock): Promise<number> {
  const args = parseSimArgs(argv)
  if (typeof args === 'number') return args
  try {
    const config = loadConfigFile(SimConfig, args.config)
    if (args.url !== undefined) config.url = args.url
    const sim = await startSimulators(config, {
      clock,
      logger: { info: (m) => process.stdout.write(`${m}\n`), warn: (m) => process.stderr.write(`${m}\n`) },
    })
    const stopStatus = printStatus(sim, args.every, clock)
    await runUntilStopped(args.duration, clock)
    stopStatus()
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
