import { parseArgs } from 'node:util'
import type { NodeView } from '@fogline/cloud'
import { ERROR_CODES, type ErrorCode, FoglineError } from '@fogline/protocol'
import { apiToken, authHeader } from '../api.js'
import { fmtBytes, reportError } from '../util.js'

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
export async function fetchNodes(url: string, timeoutMs = 5000, token?: string): Promise<NodeView[]> {
  const base = url.replace(/\/+$/, '')
  let res: Response
  try {
    res = await fetch(`${base}/api/nodes`, {
      headers: authHeader(token),
      signal: AbortSignal.timeout(timeoutMs),
    })
  } catch (cause) {
    const why = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as Error).message
    throw new FoglineError(
      'FOG_UPLINK_UNAVAILABLE',
      `cannot reach the cloud API at ${base} (${why})`,
      { url: base },
      { cause },
    )
  }
  const body = (await res.json().catch(() => null)) as unknown
  if (!res.ok || !Array.isArray(body)) {
    const e = body as { code?: string; message?: string } | null
    // the API's own code (FOG_AUTH_REQUIRED, FOG_FORBIDDEN …) is what the user acts on
    const code = e?.code && e.code in ERROR_CODES ? (e.code as ErrorCode) : 'FOG_INTERNAL'
    throw new FoglineError(
      code,
      `${base}/api/nodes answered ${res.status}: ${e?.code ?? ''} ${e?.message ?? ''}`.trim(),
      { url: base },
    )
  }
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
      n.lastError ?? '',
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

export async function run(argv: string[]): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    })
    if (values.help) {
      process.stdout.write(help)
      return 0
    }
    const url = values.url ?? process.env.FOGLINE_URL ?? 'http://127.0.0.1:8080'
    if (!/^https?:\/\//.test(url))
      throw new FoglineError(
        'FOG_CONFIG_INVALID',
        `--url must start with http:// or https://, got "${url}"`,
        { field: '--url' },
      )
    const nodes = await fetchNodes(url, 5000, apiToken(values.token))
    process.stdout.write(values.json ? `${JSON.stringify(nodes, null, 2)}\n` : renderStatus(nodes))
    return 0
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`fogline: error FOG_CONFIG_INVALID: ${(err as Error).message}\n\n${help}`)
      return 2
    }
    return reportError(err)
  }
}
