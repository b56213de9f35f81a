import { apiToken, callApi, cloudUrl } from '../api.js'
import { API_FLAGS, defineCommand, stringFlags } from '../args.js'

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

export const run = defineCommand(
  help,
  {
    ...stringFlags('action', 'by'),
    limit: { type: 'string', default: '50' },
    ...API_FLAGS,
    json: { type: 'boolean' },
  },
  async (flags) => {
    const q = new URLSearchParams({ limit: flags.limit })
    if (flags.action) q.set('action', flags.action)
    if (flags.by) q.set('token', flags.by)
    const api = { url: cloudUrl(flags.url), token: apiToken(flags.token) }
    const body = await callApi<Array<Record<string, any>>>(api, 'GET', `/api/audit?${q}`)
    if (flags.json) process.stdout.write(`${JSON.stringify(body, null, 2)}\n`)
    else
      for (const a of body)
        process.stdout.write(
          `${new Date(a.at).toISOString()}  ${String(a.tokenName ?? '-').padEnd(16)} ${String(a.action).padEnd(15)} ${String(a.target ?? '-').padEnd(24)} ${a.version ?? '-'}  ${a.result}\n`,
        )
    return 0
  },
)
