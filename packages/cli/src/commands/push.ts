import { parseArgs } from 'node:util'
import {
  DesiredContent,
  type DesiredState,
  FoglineError,
  loadConfigFile,
  parseDuration,
} from '@fogline/protocol'
import { apiToken } from '../api.js'
import { ApiError, callApi, loadOperatorKey, signAndSend } from '../sign.js'
import { reportError } from '../util.js'

export const help = `Usage: fogline push (--node ID | --group G) --file desired.yaml [options]

Sign a desired-state document (pipelines, models, uplink settings) here, with
your operator key, and send it to the cloud, which verifies it against its
operatorKeys, stores it and publishes it (retained) to the node or group. The
private key never leaves this machine; the cloud holds no key that can sign. With --canary/--canary-count (groups only) it starts a staged
rollout: the canaries first, the rest once they report applied and healthy.

The file holds any of: pipelines: [...], models: {...}, uplink: {...}, note: "...".

Options:
  --node ID            target one node
  --group G            target every node of a group
  --file F             the YAML/JSON document content
  --rollback-to N      instead of --file: a new version with version N's content (marked rollback)
  --fit NAME=METRIC    instead of --file: fit a gaussian anomaly model per sensor from the stored
                       summaries of METRIC (windows with a stddev aggregate) and push it as models.NAME
  --k K                with --fit: the model's score threshold (default 4)
  --canary n1,n2       rollout: these nodes first
  --canary-count N     rollout: N of the group's known nodes first
  --timeout D          rollout: time for the canaries to be healthy (default 60s)
  --wait               rollout: wait until it completes or stops (exit 1 if stopped)
  --url URL            the cloud's HTTP API (default $FOGLINE_URL or http://127.0.0.1:8080)
  --token T            API token, operator or admin (default $FOGLINE_TOKEN)
  --key F              operator private key (default $FOGLINE_KEY or ./fogline-operator.key.pem)
  --json               print the API's JSON answer
  -h, --help           this text
`

function rolloutLine(r: any): string {
  const canary = Object.entries(
    (r.canaryStatus ?? {}) as Record<string, { status: string; health: string | null } | null>,
  )
    .map(([n, s]) => `${n}=${s ? `${s.status}${s.health ? `/${s.health}` : ''}` : 'waiting'}`)
    .join(' ')
  return `rollout ${r.id} group ${r.group} version ${r.version}: ${r.state}${r.reason ? ` (${r.reason})` : ''}; canary ${canary}\n`
}

export async function run(argv: string[]): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        node: { type: 'string' },
        group: { type: 'string' },
        file: { type: 'string' },
        'rollback-to': { type: 'string' },
        fit: { type: 'string' },
        k: { type: 'string' },
        canary: { type: 'string' },
        'canary-count': { type: 'string' },
        timeout: { type: 'string' },
        wait: { type: 'boolean' },
        url: { type: 'string' },
        token: { type: 'string' },
        key: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    })
    if (values.help) {
      process.stdout.write(help)
      return 0
    }
    const bad = (field: string, msg: string) => new FoglineError('FOG_CONFIG_INVALID', msg, { field })
    if (!values.node === !values.group) throw bad('--node', 'give exactly one of --node ID or --group G')
    if ([values.file, values['rollback-to'], values.fit].filter((v) => v !== undefined).length !== 1)
      throw bad('--file', 'give exactly one of --file F, --rollback-to N or --fit NAME=METRIC')
    const rollout = values.canary !== undefined || values['canary-count'] !== undefined
    if (rollout && !values.group) throw bad('--canary', 'a canary rollout needs --group')
    const url = (values.url ?? process.env.FOGLINE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '')
    if (!/^https?:\/\//.test(url))
      throw bad('--url', `--url must start with http:// or https://, got "${url}"`)

    const token = apiToken(values.token)
    let content: Omit<DesiredState, 'version' | 'target' | 'createdAt'>
    if (values.file) content = loadConfigFile(DesiredContent, values.file) as DesiredContent
    else if (values.fit !== undefined) {
      const m = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(values.fit)
      if (!m)
        throw bad('--fit', `--fit must look like NAME=METRIC, e.g. vibration=vibration, got "${values.fit}"`)
      const q = new URLSearchParams({ metric: m[2]! })
      if (values.node) q.set('node', values.node)
      if (values.k !== undefined) q.set('k', values.k)
      const fit = await callApi(url, token, 'GET', `/api/models/fit?${q}`)
      if (!values.json)
        process.stdout.write(
          `model ${m[1]}: ${fit.model.note} (${fit.skipped} without a spread aggregate skipped), k ${fit.model.k}\n`,
        )
      content = { models: { [m[1]!]: fit.model }, note: `fitted model ${m[1]} from ${m[2]}` }
    } else {
      const n = Number(values['rollback-to'])
      if (!Number.isInteger(n) || n <= 0) throw bad('--rollback-to', '--rollback-to must be a version number')
      const old = await callApi(url, token, 'GET', `/api/desired/${n}`)
      const { pipelines, models, uplink } = old.doc as DesiredState
      content = { pipelines, models, uplink, rollback: true, note: `rollback to version ${n}` }
    }
    const key = loadOperatorKey(values.key)
    const target = values.node ? { node: values.node } : { group: values.group! }

    if (!rollout) {
      const r = await signAndSend(url, token, key, target, content, (env) =>
        callApi(url, token, 'POST', '/api/desired', env),
      )
      process.stdout.write(
        values.json
          ? `${JSON.stringify(r, null, 2)}\n`
          : `version ${r.version} for ${values.node ? `node ${values.node}` : `group ${values.group}`} signed (key ${r.keyId}) and published on ${r.topic}\n`,
      )
      return 0
    }

    const timeoutMs = parseDuration(values.timeout ?? '60s')
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw bad('--timeout', `--timeout "${values.timeout}" is not a duration`)
    const body: Record<string, unknown> = { group: values.group, timeoutMs: Math.round(timeoutMs) }
    if (values.canary !== undefined)
      body.canary = values.canary
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    if (values['canary-count'] !== undefined) body.canaryCount = Number(values['canary-count'])
    let r = await signAndSend(url, token, key, target, content, (envelope) =>
      callApi(url, token, 'POST', '/api/rollouts', { ...body, envelope }),
    )
    if (!values.json) process.stdout.write(rolloutLine(r))
    if (values.wait) {
      while (r.state === 'canary') {
        await new Promise((res) => setTimeout(res, 500))
        r = await callApi(url, token, 'GET', `/api/rollouts/${encodeURIComponent(r.id)}`)
      }
      if (!values.json) process.stdout.write(rolloutLine(r))
    }
    if (values.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`)
    return r.state === 'stopped' ? 1 : 0
  } catch (err) {
    if (err instanceof ApiError) {
      const field = typeof err.where.field === 'string' ? ` (field ${err.where.field})` : ''
      process.stderr.write(`fogline: error ${err.code}: ${err.message}${field}\n`)
      return 1
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`fogline: error FOG_CONFIG_INVALID: ${(err as Error).message}\n\n${help}`)
      return 2
    }
    return reportError(err)
  }
}
