import {
  type Clock,
  FoglineError,
  formatErrorData,
  isFoglineError,
  systemClock,
  toErrorData,
} from '@fogline/protocol'

/** A usage mistake in one flag: FOG_CONFIG_INVALID naming it. */
export const badFlag = (field: string, message: string) =>
  new FoglineError('FOG_CONFIG_INVALID', message, { field })

/** Print an error the way a user should see it: code, plain sentence, where. Never a stack trace. */
export function reportError(err: unknown): number {
  if (isFoglineError(err)) {
    process.stderr.write(`fogline: error ${formatErrorData(err.toJSON())}\n`)
    return err.code.startsWith('FOG_CONFIG') ? 2 : 1
  }
  const e = err as NodeJS.ErrnoException
  if (e?.code === 'EADDRINUSE') {
    process.stderr.write(`fogline: error FOG_CONFIG_INVALID: port already in use (${e.message})\n`)
    return 2
  }
  process.stderr.write(`fogline: error ${formatErrorData(toErrorData(err))}\n`)
  if (process.env.FOGLINE_DEBUG) process.stderr.write(`${e?.stack}\n`)
  return 1
}

/** Resolve when SIGINT/SIGTERM arrives or after `durationSec` (if given). */
export function waitForStop(durationSec?: number, clock: Clock = systemClock): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
      if (timer !== undefined) clock.clearTimeout(timer)
      resolve(why)
    }
    const onInt = () => done('SIGINT')
    const onTerm = () => done('SIGTERM')
    process.once('SIGINT', onInt)
    process.once('SIGTERM', onTerm)
    const timer =
      durationSec !== undefined ? clock.setTimeout(() => done('duration'), durationSec * 1000) : undefined
  })
}

/** --duration S: a positive number of seconds, or none. */
export function parseDurationFlag(v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0)
    throw badFlag('--duration', `--duration must be a positive number of seconds, got "${v}"`)
  return n
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 ** 2).toFixed(1)} MiB`
}
