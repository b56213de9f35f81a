import { parseArgs } from 'node:util'
import { startCloud } from '@fogline/cloud'
import { CloudConfig, loadConfigFile } from '@fogline/protocol'
import { parseDurationFlag, reportError, waitForStop } from '../util.js'

export const help = `Usage: fogline cloud --config FILE [--duration S]

Run the cloud aggregator: MQTT ingest (embedded broker or an external one),
the store (SQLite or PostgreSQL), the fleet view, the HTTP API and dashboard.

Options:
  -c, --config FILE   cloud config (YAML), see configs/schema/cloud.schema.json
  --duration S        stop by itself after S seconds
  -h, --help          this text
`

export async function run(argv: string[]): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        duration: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
    if (values.help) {
      process.stdout.write(help)
      return 0
    }
    if (!values.config) {
      process.stderr.write(`fogline: error FOG_CONFIG_INVALID: --config FILE is required\n\n${help}`)
      return 2
    }
    const duration = parseDurationFlag(values.duration)
    const config = loadConfigFile(CloudConfig, values.config)
    const cloud = await startCloud(config)
    process.stdout.write(
      `fogline cloud: nodes uplink to ${cloud.brokerUrl}; API and dashboard at ${cloud.httpUrl}\n`,
    )
    const why = await waitForStop(duration)
    await cloud.stop()
    process.stdout.write(`fogline cloud: stopped (${why})\n`)
    return 0
  } catch (err) {
    return reportError(err)
  }
}
