import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import {
  FoglineError,
  generateDesiredKeyPair,
  KeyScope,
  KeySet,
  loadConfigFile,
  systemClock,
} from '@fogline/protocol'
import { z } from 'zod'
import { apiToken, callApi, cloudUrl } from '../api.js'
import { defineCommand, stringFlags, TARGET_FLAGS } from '../args.js'
import { loadOperatorKey, signAndSend } from '../sign.js'
import { badFlag } from '../util.js'

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
  if (!scopes.success) throw badFlag('--scopes', '--scopes is a comma list of pipelines, models, uplink')
  const notAfter = values['not-after']
    ? Date.parse(String(values['not-after']))
    : systemClock.now() + 365 * DAY
  if (!Number.isFinite(notAfter)) throw badFlag('--not-after', '--not-after must be an ISO 8601 date')
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
  if (!values.node === !values.group) throw badFlag('--node', 'give exactly one of --node ID or --group G')
  if (!values.set) throw badFlag('--set', 'rotate needs --set KEYSET.yaml')
  const keys = loadConfigFile(KeySet, String(values.set)) as Array<Record<string, unknown>>
  const api = {
    url: cloudUrl(values.url as string | undefined),
    token: apiToken(values.token as string | undefined),
  }
  const key = loadOperatorKey(values.key as string | undefined)
  const target = values.node ? { node: String(values.node) } : { group: String(values.group) }
  const r = await signAndSend(api, key, target, { keys, note: 'key rotation' }, (env) =>
    callApi<any>(api, 'POST', '/api/desired', env),
  )
  process.stdout.write(
    `rotation version ${r.version} (${keys.length} keys) signed with key ${r.keyId} and published on ${r.topic}\n`,
  )
  return 0
}

export const run = defineCommand(
  help,
  {
    ...stringFlags('out', 'name', 'scopes', 'not-after', 'set'),
    force: { type: 'boolean' },
    ...TARGET_FLAGS,
  },
  async (flags, positionals) => {
    const verb = positionals[0] ?? 'generate'
    if (verb === 'generate') return generate(flags)
    if (verb === 'rotate') return await rotate(flags)
    throw new FoglineError('FOG_CONFIG_INVALID', `unknown keys command "${verb}" (generate, rotate)`, {})
  },
  { positionals: true },
)
