import { readFileSync } from 'node:fs'
import { LineCounter, parseDocument } from 'yaml'
import type { z } from 'zod'
import { FoglineError } from '../errors.js'

/** `pipelines[0].stages[1].size` from a zod issue path */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let s = ''
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p)
  return s || '(root)'
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
  return issue.message
}

/**
 * Validate a parsed value against a schema; the first issue becomes a FOG_CONFIG_INVALID error
 * naming the file, the field path and (for YAML) the line.
 */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: { file?: string; lineOf?: (path: ReadonlyArray<PropertyKey>) => number | undefined } = {},
): z.output<S> {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  const issue = r.error.issues[0]!
  // unknown keys: point at the key itself
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path
  const field = formatPath(path)
  const line = where.lineOf?.(path) ?? where.lineOf?.(issue.path)
  const more =
    r.error.issues.length > 1
      ? ` (and ${r.error.issues.length - 1} more issue${r.error.issues.length > 2 ? 's' : ''})`
      : ''
  throw new FoglineError(
    'FOG_CONFIG_INVALID',
    `${issueMessage(issue)}${more}`,
    { ...(where.file ? { file: where.file } : {}), field, ...(line ? { line } : {}) },
    { cause: r.error },
  )
}

/** Parse YAML (or JSON) text and validate it; errors carry file, field and line. */
export function parseConfigText<S extends z.ZodType>(
  schema: S,
  text: string,
  file = '<inline>',
): z.output<S> {
  const lc = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!
    const line = e.linePos?.[0]?.line
    throw new FoglineError('FOG_CONFIG_PARSE', e.message.split('\n')[0] ?? 'invalid YAML', {
      file,
      ...(line ? { line } : {}),
    })
  }
  const lineOf = (path: ReadonlyArray<PropertyKey>): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as unknown[], true) as
        | { range?: [number, number, number] }
        | undefined
      if (node && typeof node === 'object' && node.range) return lc.linePos(node.range[0]).line
      // a key itself: look up the pair's key node in the parent map
      if (n === path.length && n > 0) {
        const parent = doc.getIn(path.slice(0, n - 1) as unknown[], true) as
          | { items?: Array<{ key?: { value?: unknown; range?: [number, number, number] } }> }
          | undefined
        const pair = parent?.items?.find((it) => it.key?.value === path[n - 1])
        if (pair?.key?.range) return lc.linePos(pair.key.range[0]).line
      }
    }
    return undefined
  }
  return parseConfig(schema, doc.toJS(), { file, lineOf })
}

/**
 * Read a text file the user named (a config, an ACL, a key): a missing or unreadable one is
 * FOG_CONFIG_NOT_FOUND saying what it is, with the file and the setting that named it.
 * @example const text = readUserFile('/etc/fogline/acl.txt', 'the ACL file', { field: 'broker.aclFile' })
 */
export function readUserFile(file: string, what: string, where: { field?: string } = {}): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message
    throw new FoglineError(
      'FOG_CONFIG_NOT_FOUND',
      `cannot read ${what}: ${why}`,
      { file, ...where },
      { cause },
    )
  }
}

/** Read and validate a config file. @example const cfg = loadConfigFile(NodeConfig, 'configs/node-a.yaml') */
export function loadConfigFile<S extends z.ZodType>(schema: S, file: string): z.output<S> {
  return parseConfigText(schema, readUserFile(file, 'config file'), file)
}
