#!/usr/bin/env node
import { main } from './main.js'

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
    // handles of libraries (mqtt reconnect timers, pino) must not keep a finished command alive
    setTimeout(() => process.exit(code), 500).unref()
  },
  (err) => {
    process.stderr.write(`fogline: error FOG_INTERNAL: ${(err as Error).message}\n`)
    process.exit(1)
  },
)
