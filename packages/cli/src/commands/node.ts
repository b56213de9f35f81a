import { type FogNode, startNode } from '@fogline/node'
import {
  FoglineError,
  formatErrorData,
  loadConfigFile,
  NodeConfig,
  sleep,
  systemClock,
} from '@fogline/protocol'
import { defineCommand, required } from '../args.js'
import { parseDurationFlag, waitForStop } from '../util.js'

export const help = `Usage: fogline node --config FILE [--duration S]

Run one fog node: a local MQTT broker for sensors, the pipelines from FILE,
a durable outbox and the uplink to the cloud. Prints a status line every few
seconds. Ctrl-C stops cleanly (open windows are checkpointed).

Hot reload: edit FILE and send SIGHUP (kill -HUP PID). The node re-reads FILE and applies its
pipelines without restarting the broker; pipelines whose definition did not change keep their
open windows; an invalid file is refused with its error and the running pipelines stay. Only
pipelines are reloaded (other settings need a restart), and not while the cloud's desired state
manages them.

Options:
  -c, --config FILE   node config (YAML), see configs/schema/node.schema.json
  --duration S        stop by itself after S seconds
  --status-every S    seconds between status lines (default 5, 0 = none)
  -h, --help          this text
`

/** Exit code when the node cannot go on (EX_SOFTWARE); the unit's Restart=on-failure restarts it. */
export const EXIT_UNRECOVERABLE = 70

export const run = defineCommand(
  help,
  {
    config: { type: 'string', short: 'c' },
    duration: { type: 'string' },
    'status-every': { type: 'string', default: '5' },
  },
  async (flags) => {
    const configFile = required(flags.config, '--config FILE')
    const duration = parseDurationFlag(flags.duration)
    // unrecoverable (outbox unwritable, results dropped): exit non-zero so systemd's Restart=on-failure acts
    let fatal: (() => void) | undefined
    const fatalExit = new Promise<'unrecoverable'>((resolve) => (fatal = () => resolve('unrecoverable')))
    const node = await startNode(loadConfigFile(NodeConfig, configFile), {
      configFile,
      onFatal: () => fatal?.(),
    })
    process.stdout.write(`fogline node ${node.nodeId}: sensors publish to ${node.brokerUrl}\n`)
    for (const line of node.broker.describe()) process.stdout.write(`  listener ${line}\n`)
    if (node.ops.httpUrl)
      process.stdout.write(`fogline node ${node.nodeId}: metrics on ${node.ops.httpUrl}/metrics\n`)
    const every = Number(flags['status-every']) * 1000
    const timer = every > 0 ? systemClock.setInterval(() => printStatus(node), every) : undefined
    const onHup = () => reload(node, configFile)
    process.on('SIGHUP', onHup)
    process.stdout.write(`fogline node ${node.nodeId}: pid ${process.pid} (SIGHUP reloads pipelines)\n`)
    const why = await Promise.race([waitForStop(duration), fatalExit])
    process.off('SIGHUP', onHup)
    if (timer !== undefined) systemClock.clearInterval(timer)
    // an unwritable outbox may keep a clean stop from finishing: the restart matters more
    await Promise.race([
      node.stop(),
      why === 'unrecoverable' ? sleep(systemClock, 5000) : new Promise(() => {}),
    ])
    process.stdout.write(`fogline node ${node.nodeId}: stopped (${why})\n`)
    return why === 'unrecoverable' ? EXIT_UNRECOVERABLE : 0
  },
)

function printStatus(node: FogNode): void {
  const s = node.stats()
  process.stdout.write(
    `[${node.nodeId}] in=${s.readingsIn} (${s.readingsPerSec.toFixed(0)}/s) summaries=${s.outputs.summary ?? 0} events=${s.outputs.event ?? 0} backlog=${s.backlogRecords} sent=${s.sent} acked=${s.acked} ${s.connected ? 'online' : 'OFFLINE'}\n`,
  )
}

/** SIGHUP: re-read the config file and apply its pipelines; a refused reload keeps the running ones. */
function reload(node: FogNode, configFile: string): void {
  try {
    const applied = node.desired?.appliedVersion() ?? null
    if (applied !== null)
      throw new FoglineError(
        'FOG_CONFIG_INVALID',
        `pipelines are managed by the cloud's desired state (version ${applied}); push a new version instead`,
        { file: configFile },
      )
    const next = loadConfigFile(NodeConfig, configFile)
    const r = node.applyPipelines(next.pipelines, { file: configFile })
    const list = (xs: string[]) => (xs.length ? xs.join(',') : '-')
    process.stdout.write(
      `fogline node ${node.nodeId}: reloaded ${configFile}: added=${list(r.added)} changed=${list(r.changed)} removed=${list(r.removed)} kept=${list(r.kept)}\n`,
    )
  } catch (err) {
    const msg = err instanceof FoglineError ? formatErrorData(err.toJSON()) : String(err)
    process.stderr.write(`fogline node ${node.nodeId}: reload refused, running pipelines kept: ${msg}\n`)
  }
}
