import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { FoglineError, generateDesiredKeyPair } from '@fogline/protocol'
import { reportError } from '../util.js'

export const help = `Usage: fogline keys [--out DIR] [--force]

Make an Ed25519 key pair for signing desired state:
  DIR/fogline-desired.key.pem   private key (PKCS#8, mode 0600): the cloud's signingKeyFile
  DIR/fogline-desired.pub.pem   public key (SPKI): each node's desiredPublicKey (the PEM, or the
                                one-line base64 form printed below)

Options:
  --out DIR     where to write the files (default: the current folder)
  --force       overwrite existing key files
  -h, --help    this text
`

export const PRIVATE_FILE = 'fogline-desired.key.pem'
export const PUBLIC_FILE = 'fogline-desired.pub.pem'

export async function run(argv: string[]): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    })
    if (values.help) {
      process.stdout.write(help)
      return 0
    }
    const dir = resolve(values.out ?? '.')
    const priv = join(dir, PRIVATE_FILE)
    const pub = join(dir, PUBLIC_FILE)
    for (const f of [priv, pub])
      if (existsSync(f) && !values.force)
        throw new FoglineError('FOG_CONFIG_INVALID', `${f} exists; pass --force to replace it`, { file: f })
    const k = generateDesiredKeyPair()
    mkdirSync(dir, { recursive: true })
    writeFileSync(priv, k.privateKeyPem, { mode: 0o600 })
    writeFileSync(pub, k.publicKeyPem)
    process.stdout.write(
      `wrote ${priv} (private: keep it on the cloud, signingKeyFile)\n` +
        `wrote ${pub}\n` +
        `key id ${k.keyId}\n` +
        `public key (desiredPublicKey in each node config):\n${k.publicKeyPem.trimEnd()}\n` +
        `one-line form: ${k.publicKeyRaw}\n`,
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
