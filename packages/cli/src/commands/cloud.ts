import { startCloud } from '@fogline/cloud'
import { CloudConfig, loadConfigFile } from '@fogline/protocol'
import { defineCommand, required } from '../args.js'
import { parseDurationFlag, waitForStop } from '../util.js'

export const help = `Usage: fogline cloud --config FILE [--duration S]

Run the cloud aggregator: MQTT ingest (embedded broker or an external one),
the store (SQLite or PostgreSQL), the fleet view, the HTTP API and dashboard.

Options:
  -c, --config FILE   cloud config (YAML), see configs/schema/cloud.schema.json
  --duration S        stop by itself after S seconds
  -h, --help          this text
`

export const run = defineCommand(
  help,
  { config: { type: 'string', short: 'c' }, duration: { type: 'string' } },
  async (flags) => {
    const file = required(flags.config, '--config FILE')
    const duration = parseDurationFlag(flags.duration)
    const cloud = await startCloud(loadConfigFile(CloudConfig, file))
    process.stdout.write(
      `fogline cloud: nodes uplink to ${cloud.brokerUrl}; API and dashboard at ${cloud.httpUrl}\n`,
    )
    const why = await waitForStop(duration)
    await cloud.stop()
    process.stdout.write(`fogline cloud: stopped (${why})\n`)
    return 0
  },
)
