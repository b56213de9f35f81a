import type { TrainResult } from '@fogline/cloud'
import { apiToken, callApi, cloudUrl } from '../api.js'
import { defineCommand, NODE_OR_GROUP_FLAGS } from '../args.js'
import { badFlag } from '../util.js'

export const help = `Usage: fogline train (--node ID | --group G) [options]

Train the anomaly models of one node or group now, as the cloud's schedule does:
fit a candidate per class (metric) from its stored summaries, judge it against
the model in force on held-back recent data, and publish it (signed with the
cloud's models-only key) only when it is better. Prints what was decided per
model. Needs an operator token and a cloud with a \`training\` section.

Options:
  --node ID      train this node's models
  --group G      train this group's models (summaries of all its nodes)
  --url URL      the cloud's HTTP API (default $FOGLINE_URL or http://127.0.0.1:8080)
  --token T      API token (default $FOGLINE_TOKEN)
  --json         print the API's JSON answer
  -h, --help     this text
`

/** One line per model: name, outcome, held-back figures, why. */
export function renderTrain(r: TrainResult): string {
  const fig = (j: TrainResult['models'][number]['candidate']) =>
    j?.nll === null || j === null ? '-' : `nll ${j.nll} flags ${j.flagRate}`
  const head = r.published === null ? 'nothing published' : `published desired-state version ${r.published}`
  const lines = r.models.map(
    (m) =>
      `${m.name.padEnd(16)} ${m.outcome.padEnd(9)} candidate ${fig(m.candidate)}; current ${fig(m.current)}; ${m.reason}`,
  )
  return `${head} (${r.dropped} summary windows left out)\n${lines.join('\n')}\n`
}

export const run = defineCommand(
  help,
  {
    ...NODE_OR_GROUP_FLAGS,
    json: { type: 'boolean' },
  },
  async (flags) => {
    if ((flags.node === undefined) === (flags.group === undefined))
      throw badFlag('--node', 'give --node ID or --group G, one of them')
    const body = flags.node !== undefined ? { node: flags.node } : { group: flags.group }
    const api = { url: cloudUrl(flags.url), token: apiToken(flags.token) }
    const r = await callApi<TrainResult>(api, 'POST', '/api/models/train', body, 120_000)
    process.stdout.write(flags.json ? `${JSON.stringify(r, null, 2)}\n` : renderTrain(r))
    return 0
  },
)
