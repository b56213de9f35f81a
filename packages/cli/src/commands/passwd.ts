import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { formatPasswordFile, hashPassword, parsePasswordFile, validUserName } from '@fogline/broker'
import { FoglineError } from '@fogline/protocol'
import { reportError } from '../util.js'

export const help = `Usage: fogline passwd [-D] FILE USER

Add or change USER in the broker password file FILE (salted scrypt hashes; the node's
broker.passwordFile), like mosquitto_passwd. The password is read from a prompt when
standard input is a terminal, else from its first line (so it never shows in ps or history):
  printf '%s\\n' "$PW" | fogline passwd /etc/fogline/passwd sensor-1

FILE is made (mode 0600) when it does not exist. A running node reads it at start.

Options:
  -D            delete USER from FILE
  -h, --help    this text
`

/** Read one line from stdin; on a terminal, prompt twice without echo. */
async function readPassword(): Promise<string> {
  const stdin = process.stdin
  if (!stdin.isTTY) {
    let text = ''
    for await (const chunk of stdin) {
      text += chunk
      if (text.includes('\n')) break
    }
    return text.split(/\r?\n/)[0] ?? ''
  }
  const ask = (prompt: string) =>
    new Promise<string>((resolve) => {
      process.stderr.write(prompt)
      stdin.setRawMode(true)
      stdin.resume()
      let pw = ''
      const onData = (d: Buffer) => {
        for (const ch of d.toString('utf8')) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            stdin.setRawMode(false)
            stdin.pause()
            stdin.off('data', onData)
            process.stderr.write('\n')
            return resolve(pw)
          }
          if (ch === '\u0003') process.exit(130)
          pw = ch === '\u007f' ? pw.slice(0, -1) : pw + ch
        }
      }
      stdin.on('data', onData)
    })
  const a = await ask('Password: ')
  const b = await ask('Reenter password: ')
  if (a !== b)
    throw new FoglineError('FOG_CONFIG_INVALID', 'the passwords do not match', { field: 'password' })
  return a
}

export async function run(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { delete: { type: 'boolean', short: 'D' }, help: { type: 'boolean', short: 'h' } },
    })
    if (values.help) {
      process.stdout.write(help)
      return 0
    }
    const [file, user] = positionals
    if (!file || !user || positionals.length > 2) {
      process.stderr.write(help)
      return 2
    }
    if (!validUserName(user))
      throw new FoglineError(
        'FOG_CONFIG_INVALID',
        `"${user}" cannot be a user name (no ':', spaces, '#', '+', '/')`,
        {
          field: 'USER',
        },
      )
    const entries = new Map(existsSync(file) ? parsePasswordFile(readFileSync(file, 'utf8'), file) : [])
    if (values.delete) {
      if (!entries.delete(user))
        throw new FoglineError('FOG_CONFIG_INVALID', `user ${user} is not in the file`, {
          file,
          field: 'USER',
        })
    } else {
      const password = await readPassword()
      if (password.length === 0)
        throw new FoglineError('FOG_CONFIG_INVALID', 'an empty password is not allowed', {
          field: 'password',
        })
      entries.set(user, await hashPassword(password))
    }
    // write then rename, so a node starting meanwhile never reads half a file
    writeFileSync(`${file}.tmp`, formatPasswordFile(entries), { mode: 0o600 })
    renameSync(`${file}.tmp`, file)
    process.stderr.write(`${values.delete ? 'deleted' : 'set'} ${user} in ${file}\n`)
    return 0
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`fogline: error FOG_CONFIG_INVALID: ${(err as Error).message}\n\n${help}`)
      return 2
    }
    return reportError(err)
  }
}
