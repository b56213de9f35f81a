import { LOG_REDACT } from '@fogline/protocol'
import { pino } from 'pino'

export type Logger = pino.Logger

/** JSON logs to stderr (stdout is for the CLI's status lines). */
export function createLogger(level: string, name: string): Logger {
  return pino({ level, name, base: null, redact: LOG_REDACT }, pino.destination({ fd: 2, sync: false }))
}
