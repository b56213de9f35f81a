import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { FoglineError, generateDesiredKeyPair, KeyScope, KeySet, loadConfigFile } from '@fogline/protocol'
import { z } from 'zod'
import { apiToken, cloudUrl } from '../api.js'
import { ApiError, callApi, loadOperatorKey, signAndSend } from '../sign.js'
import { reportError } from '../util.js'

export const help = `Usage: fogline keys generate [--out DIR] [--name NAME] [--scopes S] [--not-after DATE] [--force]
       fogline keys rotate (--node ID | --group G) --set KEYSET.yaml [--key F] [--url URL] [--token T]

generate: make an Ed25519 key pair on this machine for signing desired state:
  DIR/NAME.key.pem   private key (PKCS#8, mode 0600): keep it here, fogline push --key uses it
  DIR/NAME.pub.pem   public key (SPKI)
and print its key-set entry (key id, public key, scopes, not-after) for the nodes' desiredKeys and the
cloud's operatorKeys.

rotate: sign a new whole key set (a YAML list of such entries) with a current key that holds every
scope, and push it; nodes then trust exactly the new set (docs/desired-state.md).

Options:
  --out DIR          generate: where to write the files (default: the current folder)
  --name NAME        generate: file name base (default fogline-operator)
  --scopes S         generate: comma list of pipelines,models,uplink (default all three)
  --not-after DATE   generate: ISO 8601 expiry (default one year from now)
  --force            generate: overwrite existing key files
  --set FILE         rotate: the new key set (YAML list)
  --key F            rotate: the current private key (default $FOGLINE_KEY or ./fogline-operator.key.pem)
  --url URL, --token T   rotate: the cloud's API and an operator token ($FOGLINE_URL, $FOGLINE_TOKEN)
  -h, --help         this text
`

const DAY = 86_400_000

function generate(values: Record<string, string | boolean | undefined>): number {
  const dir = resolve(String(values.out ?? '.'))
  const name = String(values.name ?? 'fogline-operator')
  const priv = join(dir, `${name}.key.pem`)
  const pub = join(dir, `${name}.pub.pem`)
  for (const f of [priv, pub])
    if (existsSync(f) && !values.force)
      throw new FoglineError('FOG_CONFIG_INVALID', `${f} exists; pass --force to replace it`, { file: f })
  const scopes = z
    .array(KeyScope)
    .min(1)
    .safeParse(String(values.scopes ?? 'pipelines,models,uplink').split(','))
  if (!scopes.success)
    throw new FoglineError('FOG_CONFIG_INVALID', '--scopes is a comma list of pipelines, models, uplink', {
      field: '--scopes',
    })
  const notAfter = values['not-after'] ? Date.parse(String(values['not-after'])) : Date.now() + 365 * DAY
  if (!Number.isFinite(notAfter))
    throw new FoglineError('FOG_CONFIG_INVALID', '--not-after must be an ISO 8601 date', {
      field: '--not-after',
    })
  const k = generateDesiredKeyPair()
  mkdirSync(dir, { recursive: true })
  writeFileSync(priv, k.privateKeyPem, { mode: 0o600 })
  writeFileSync(pub, k.publicKeyPem)
  process.stdout.write(
    `wrote ${priv} (private: keep it on this machine; fogline push --key)\nwrote ${pub}\nkey id ${k.keyId}\n` +
      `key-set entry (nodes' desiredKeys, the cloud's operatorKeys):\n` +
      `- keyId: ${k.keyId}\n  publicKey: ${k.publicKeyRaw}\n  scopes: [${scopes.data.join(', ')}]\n` +
      `  notAfter: ${new Date(notAfter).toISOString()}\n`,
  )
  return 0
}

async function rotate(values: Record<string, string | boolean | undefined>): Promise<number> {
  if (!values.node === !values.group)
    throw new FoglineError('FOG_CONFIG_INVALID', 'give exactly one of --node ID or --group G', {
      field: '--node',
    })
  if (!values.set)
    throw new FoglineError('FOG_CONFIG_INVALID', 'rotate needs --set KEYSET.yaml', { field: '--set' })
  const keys = loadConfigFile(KeySet, String(values.set)) as Array<Record<string, unknown>>
  const url = cloudUrl(values.url as string | undefined)
  const token = apiToken(values.token as string | undefined)
  const key = loadOperatorKey(values.key as string | undefined)
  const target = values.node ? { node: String(values.node) } : { group: String(values.group) }
  const r = await signAndSend(url, token, key, target, { keys, note: 'key rotation' }, (env) =>
    callApi(url, token, 'POST', '/api/desired', env),
  )
  process.stdout.write(
    `rotation version ${r.version} (${keys.length} keys) signed with key ${r.keyId} and published on ${r.topic}\n`,
  )
  return 0
}

export async function run(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        name: { type: 'string' },
        scopes: { type: 'string' },
        'not-after': { type: 'string' },
        force: { type: 'boolean' },
        set: { type: 'string' },
        node: { type: 'string' },
        group: { type: 'string' },
        key: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
    if (values.help) {
      process.stdout.write(help)
      return 0
    }
    const verb = positionals[0] ?? 'generate'
    if (verb === 'generate') return generate(values)
    if (verb === 'rotate') return await rotate(values)
    throw new FoglineError('FOG_CONFIG_INVALID', `unknown keys command "${verb}" (generate, rotate)`, {})
  } catch (err) {
    if (err instanceof ApiError) {
      process.stderr.write(`fogline: error ${err.code}: ${err.message}\n`)
      return 1
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`fogline: error FOG_CONFIG_INVALID: ${(err as Error).message}\n\n${help}`)
      return 2
    }
    return reportError(err)
  }
}
