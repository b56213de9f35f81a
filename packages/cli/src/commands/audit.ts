import { parseArgs } from 'node:util'
import { FoglineError } from '@fogline/protocol'
import { apiToken, authHeader, cloudUrl } from '../api.js'
import { reportError } from '../util.js'

export const help = `Usage: fogline audit [options]

Print the cloud's audit log: every control action (desired state, rollouts, the
demo link control, tokens) with time, token name, action, target, version and
result. Needs an operator or admin token.

Options:
  --action A     only this action (desired.create, rollout.start, demo.link, token.create, token.revoke)
  --by NAME      only actions of this token name
  --limit N      newest N entries (default 50)
  --url URL      the cloud's HTTP API (default $FOGLINE_URL or http://127.0.0.1:8080)
  --token T      API token (default $FOGLINE_TOKEN)
  --json         print the API's JSON answer
  -h, --help     this text
`

export async function run(argv: string[]): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        action: { type: 'string' },
        by: { type: 'string' },
        limit: { type: 'string', default: '50' },
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
    const url = cloudUrl(values.url)
    const q = new URLSearchParams({ limit: values.limit })
    if (values.action) q.set('action', values.action)
    if (values.by) q.set('token', values.by)
    const res = await fetch(`${url}/api/audit?${q}`, {
      headers: authHeader(apiToken(values.token)),
      signal: AbortSignal.timeout(10_000),
    }).catch((cause) => {
      throw new FoglineError(
        'FOG_UPLINK_UNAVAILABLE',
        `cannot reach the cloud API at ${url}`,
        { url },
        { cause },
      )
    })
    const body = (await res.json().catch(() => null)) as any
    if (!res.ok) {
      process.stderr.write(`fogline: error ${body?.code ?? `HTTP ${res.status}`}: ${body?.message ?? ''}\n`)
      return 1
    }
    if (values.json) process.stdout.write(`${JSON.stringify(body, null, 2)}\n`)
    else
      for (const a of body as Array<Record<string, any>>)
        process.stdout.write(
          `${new Date(a.at).toISOString()}  ${String(a.tokenName ?? '-').padEnd(16)} ${String(a.action).padEnd(15)} ${String(a.target ?? '-').padEnd(24)} ${a.version ?? '-'}  ${a.result}\n`,
        )
    return 0
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`fogline: error FOG_CONFIG_INVALID: ${(err as Error).message}\n\n${help}`)
      return 2
    }
    return reportError(err)
  }
}
