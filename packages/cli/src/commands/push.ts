import {
  DesiredContent,
  type DesiredState,
  loadConfigFile,
  parseDuration,
  sleep,
  systemClock,
} from '@fogline/protocol'
import { type ApiTarget, apiToken, callApi, cloudUrl } from '../api.js'
import { defineCommand, type Flags, stringFlags, TARGET_FLAGS } from '../args.js'
import { loadOperatorKey, signAndSend } from '../sign.js'
import { badFlag } from '../util.js'

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

const options = {
  ...TARGET_FLAGS,
  ...stringFlags('file', 'rollback-to', 'fit', 'k', 'canary', 'canary-count', 'timeout'),
  wait: { type: 'boolean' },
  json: { type: 'boolean' },
} as const
type PushFlags = Flags<typeof options>
type Content = Omit<DesiredState, 'version' | 'target' | 'createdAt'>

/** How often --wait asks the cloud about the rollout. */
const WAIT_POLL_MS = 500

function rolloutLine(r: any): string {
  const canary = Object.entries(
    (r.canaryStatus ?? {}) as Record<string, { status: string; health: string | null } | null>,
  )
    .map(([n, s]) => `${n}=${s ? `${s.status}${s.health ? `/${s.health}` : ''}` : 'waiting'}`)
    .join(' ')
  return `rollout ${r.id} group ${r.group} version ${r.version}: ${r.state}${r.reason ? ` (${r.reason})` : ''}; canary ${canary}\n`
}

/** The document content: from --file, a fitted model (--fit) or a rollback (--rollback-to). */
async function desiredContent(flags: PushFlags, api: ApiTarget): Promise<Content> {
  if (flags.file) return loadConfigFile(DesiredContent, flags.file) as DesiredContent
  if (flags.fit !== undefined) {
    const m = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(flags.fit)
    if (!m)
      throw badFlag('--fit', `--fit must look like NAME=METRIC, e.g. vibration=vibration, got "${flags.fit}"`)
    const q = new URLSearchParams({ metric: m[2]! })
    if (flags.node) q.set('node', flags.node)
    if (flags.k !== undefined) q.set('k', flags.k)
    const fit = await callApi<any>(api, 'GET', `/api/models/fit?${q}`)
    if (!flags.json)
      process.stdout.write(
        `model ${m[1]}: ${fit.model.note} (${fit.skipped} without a spread aggregate skipped), k ${fit.model.k}\n`,
      )
    return { models: { [m[1]!]: fit.model }, note: `fitted model ${m[1]} from ${m[2]}` }
  }
  const n = Number(flags['rollback-to'])
  if (!Number.isInteger(n) || n <= 0) throw badFlag('--rollback-to', '--rollback-to must be a version number')
  const old = await callApi<{ doc: DesiredState }>(api, 'GET', `/api/desired/${n}`)
  const { pipelines, models, uplink } = old.doc
  return { pipelines, models, uplink, rollback: true, note: `rollback to version ${n}` }
}

/** A staged rollout to the group, signed here; with --wait, until it completes or stops. */
async function rollout(flags: PushFlags, api: ApiTarget, send: Send): Promise<number> {
  const timeoutMs = parseDuration(flags.timeout ?? '60s')
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw badFlag('--timeout', `--timeout "${flags.timeout}" is not a duration`)
  const body: Record<string, unknown> = { group: flags.group, timeoutMs: Math.round(timeoutMs) }
  if (flags.canary !== undefined)
    body.canary = flags.canary
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  if (flags['canary-count'] !== undefined) body.canaryCount = Number(flags['canary-count'])
  let r = await send((envelope) => callApi<any>(api, 'POST', '/api/rollouts', { ...body, envelope }))
  if (!flags.json) process.stdout.write(rolloutLine(r))
  if (flags.wait) {
    while (r.state === 'canary') {
      await sleep(systemClock, WAIT_POLL_MS)
      r = await callApi<any>(api, 'GET', `/api/rollouts/${encodeURIComponent(r.id)}`)
    }
    if (!flags.json) process.stdout.write(rolloutLine(r))
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`)
  return r.state === 'stopped' ? 1 : 0
}

/** Sign the document for the next version and post it (again on a version race). */
type Send = (post: (envelope: unknown) => Promise<any>) => Promise<any>

export const run = defineCommand(help, options, async (flags) => {
  if (!flags.node === !flags.group) throw badFlag('--node', 'give exactly one of --node ID or --group G')
  if ([flags.file, flags['rollback-to'], flags.fit].filter((v) => v !== undefined).length !== 1)
    throw badFlag('--file', 'give exactly one of --file F, --rollback-to N or --fit NAME=METRIC')
  const staged = flags.canary !== undefined || flags['canary-count'] !== undefined
  if (staged && !flags.group) throw badFlag('--canary', 'a canary rollout needs --group')
  const api = { url: cloudUrl(flags.url), token: apiToken(flags.token) }
  const content = await desiredContent(flags, api)
  const key = loadOperatorKey(flags.key)
  const target = flags.node ? { node: flags.node } : { group: flags.group! }
  const send: Send = (post) => signAndSend(api, key, target, content, post)
  if (staged) return rollout(flags, api, send)
  const r = await send((env) => callApi<any>(api, 'POST', '/api/desired', env))
  process.stdout.write(
    flags.json
      ? `${JSON.stringify(r, null, 2)}\n`
      : `version ${r.version} for ${flags.node ? `node ${flags.node}` : `group ${flags.group}`} signed (key ${r.keyId}) and published on ${r.topic}\n`,
  )
  return 0
})
