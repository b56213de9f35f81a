import { readFileSync } from 'node:fs'

/** The parts of a systemd unit the deploy tests run the service with. */
export interface ServiceSpec {
  execStart: string[]
  user: string
  group: string
  environment: Record<string, string>
  workingDirectory: string | undefined
}

// systemd's C-style escapes in unit values (`\x20` keeps a space inside one Environment= assignment)
const unescapeValue = (s: string) =>
  s.replace(/\\x([0-9a-fA-F]{2})|\\(.)/g, (_m, hex: string | undefined, ch: string | undefined) =>
    hex ? String.fromCharCode(Number.parseInt(hex, 16)) : ch === 'n' ? '\n' : (ch ?? ''),
  )

// split on unquoted whitespace, as systemd does for ExecStart= and Environment=
function words(value: string): string[] {
  const out: string[] = []
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g
  for (let m = re.exec(value); m; m = re.exec(value)) out.push(unescapeValue(m[1] ?? m[2] ?? m[3] ?? ''))
  return out
}

/** Read a service unit's [Service] section: ExecStart, User/Group, Environment, WorkingDirectory. */
export function readServiceUnit(path: string): ServiceSpec {
  let section = ''
  const spec: ServiceSpec = {
    execStart: [],
    user: 'root',
    group: '',
    environment: {},
    workingDirectory: undefined,
  }
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#') || line.startsWith(';')) continue
    if (line.startsWith('[')) {
      section = line
      continue
    }
    if (section !== '[Service]') continue
    const eq = line.indexOf('=')
    const key = line.slice(0, eq)
    const value = line.slice(eq + 1)
    if (key === 'ExecStart') spec.execStart = words(value.replace(/^[-@:+!]+/, ''))
    else if (key === 'User') spec.user = value
    else if (key === 'Group') spec.group = value
    else if (key === 'WorkingDirectory') spec.workingDirectory = value
    else if (key === 'Environment')
      for (const w of words(value)) {
        const i = w.indexOf('=')
        spec.environment[w.slice(0, i)] = w.slice(i + 1)
      }
  }
  return spec
}
