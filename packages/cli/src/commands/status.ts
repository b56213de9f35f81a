import type { NodeView } from '@fogline/cloud'
import { FoglineError, formatErrorData } from '@fogline/protocol'
import { type ApiTarget, apiToken, callApi, cloudUrl } from '../api.js'
import { API_FLAGS, defineCommand } from '../args.js'
import { fmtBytes } from '../util.js'

export const help = `Usage: fogline status [--url URL] [--token T] [--json]

Print the fleet as the cloud sees it: one line per node with its state,
last heartbeat, rate, backlog, oldest unsent record, ETA, drops and config.

Options:
  --url URL     the cloud's HTTP API (default $FOGLINE_URL or http://127.0.0.1:8080)
  --token T     API token, viewer or above (default $FOGLINE_TOKEN)
  --json        print the raw JSON of GET /api/nodes
  -h, --help    this text
`

/** GET {url}/api/nodes; a coded error when the cloud cannot be reached or answers with an error. */
async function fetchNodes(api: ApiTarget, timeoutMs = 5000): Promise<NodeView[]> {
  const body = await callApi<unknown>(api, 'GET', '/api/nodes', undefined, timeoutMs)
  if (!Array.isArray(body))
    throw new FoglineError('FOG_INTERNAL', `${api.url}/api/nodes did not answer a list of nodes`, {
      url: api.url,
    })
  return body as NodeView[]
}

function ago(ms: number): string {
  if (ms < 0) ms = 0
  if (ms < 1000) return `${ms}ms`
  if (ms < 90_000) return `${Math.round(ms / 1000)}s`
  if (ms < 90 * 60_000) return `${Math.round(ms / 60_000)}m`
  return `${(ms / 3_600_000).toFixed(1)}h`
}

/** The fleet table as text (one header line, one line per node). */
export function renderStatus(nodes: readonly NodeView[], now = Date.now()): string {
  if (nodes.length === 0) return 'no nodes have reported to this cloud yet\n'
  const head = [
    'NODE',
    'GROUP',
    'STATE',
    'SEEN',
    'READ/S',
    'BACKLOG',
    'BYTES',
    'OLDEST',
    'ETA',
    'DROPPED',
    'CONFIG',
    'STORED',
    'LAST ERROR',
  ]
  const rows = nodes.map((n) => {
    const dropped = Object.entries(n.dropped ?? {})
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k}:${v}`)
      .join(',')
    return [
      n.nodeId,
      n.group ?? '-',
      n.online ? 'online' : 'OFFLINE',
      `${ago(now - n.lastSeen)} ago`,
      n.readingsPerSec.toFixed(1),
      String(n.backlogRecords),
      fmtBytes(n.backlogBytes),
      n.oldestUnsentAgeMs === null || n.backlogRecords === 0 ? '-' : ago(n.oldestUnsentAgeMs),
      n.etaSec === null || n.backlogRecords === 0 ? '-' : `${Math.ceil(n.etaSec)}s`,
      dropped || '0',
      n.configVersion === null ? '-' : String(n.configVersion),
      String(n.summaries),
      n.lastError ? formatErrorData(n.lastError) : '',
    ]
  })
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i]!)))
      .join('  ')
      .trimEnd()
  const online = nodes.filter((n) => n.online).length
  return `${[line(head), ...rows.map(line)].join('\n')}\n${online}/${nodes.length} online\n`
}

export const run = defineCommand(help, { ...API_FLAGS, json: { type: 'boolean' } }, async (flags) => {
  const nodes = await fetchNodes({ url: cloudUrl(flags.url), token: apiToken(flags.token) })
  process.stdout.write(flags.json ? `${JSON.stringify(nodes, null, 2)}\n` : renderStatus(nodes))
  return 0
})
