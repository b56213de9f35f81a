import { createRequire } from 'node:module'
import { LOG_REDACT } from '@fogline/protocol'
import { pino } from 'pino'

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface NodeLogOptions {
  name: string
  level: Level
  /** a level per module (broker, pipeline, outbox, uplink, ops, desired), overriding `level` */
  modules?: Record<string, Level>
  /** json always; auto: pretty when stderr is a terminal and pino-pretty is installed, else json */
  format?: 'auto' | 'json'
  /** for tests: where JSON lines go (default stderr, fd 2) */
  destination?: pino.DestinationStream
}

/** A logger factory: the node's logger and one child per module at that module's level. */
export interface NodeLogs {
  readonly root: pino.Logger
  /** `{ module }` on every line, at `modules[module]` or the root level */
  module(name: string): pino.Logger
  /** true when lines are pretty-printed */
  readonly pretty: boolean
}

// pino-pretty is not a dependency of the gateway install: used only when someone installed it
function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty')
    return true
  } catch {
    return false
  }
}

/**
 * JSON lines to stderr by default (stdout is for the CLI's status lines); pretty in a terminal.
 * @example const logs = createNodeLogs({ name: 'fogline-node:n1', level: 'info', modules: { uplink: 'debug' } })
 *          const log = logs.module('uplink'); log.debug('connected')
 */
export function createNodeLogs(o: NodeLogOptions): NodeLogs {
  const pretty = !o.destination && o.format !== 'json' && process.stderr.isTTY === true && prettyAvailable()
  const dest =
    o.destination ??
    (pretty
      ? pino.transport({ target: 'pino-pretty', options: { destination: 2, colorize: true } })
      : pino.destination({ fd: 2, sync: false }))
  // a pino child's level is its own: a module may be more verbose than the root
  const root = pino({ level: o.level, base: { name: o.name }, redact: LOG_REDACT }, dest)
  const byModule = new Map<string, pino.Logger>()
  return {
    root,
    pretty,
    module(name) {
      let l = byModule.get(name)
      if (!l) {
        l = root.child({ module: name }, { level: o.modules?.[name] ?? o.level })
        byModule.set(name, l)
      }
      return l
    },
  }
}
