#!/usr/bin/env node
import { systemClock } from '@fogline/protocol'
import { main } from './main.js'

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
    // handles of libraries (mqtt reconnect timers, pino) must not keep a finished command alive
    const t = systemClock.setTimeout(() => process.exit(code), 500)
    ;(t as { unref?: () => void }).unref?.()
  },
  (err) => {
    process.stderr.write(`fogline: error FOG_INTERNAL: ${(err as Error).message}\n`)
    process.exit(1)
  },
)
