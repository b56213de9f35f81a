import { type ParseArgsConfig, parseArgs } from 'node:util'
import { FoglineError } from '@fogline/protocol'
import { reportError } from './util.js'

type Options = NonNullable<ParseArgsConfig['options']>
/** The parsed flags of a command, typed from its options (node's util.parseArgs). */
export type Flags<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O }>>['values']

/**
 * One way every command reads its arguments: node's util.parseArgs (strict), `-h/--help` prints the help,
 * a usage mistake is FOG_CONFIG_INVALID with the help (exit 2), and any error is reported as code, sentence
 * and where (never a stack trace).
 * @example export const run = defineCommand(help, { url: { type: 'string' } }, async (flags) => 0)
 */
export function defineCommand<const O extends Options>(
  help: string,
  options: O,
  body: (flags: Flags<O>, positionals: string[]) => Promise<number>,
  opts: { positionals?: boolean } = {},
): (argv: string[]) => Promise<number> {
  return async (argv) => {
    let flags: Flags<O> & { help?: boolean }
    let positionals: string[]
    try {
      const parsed = parseArgs({
        args: argv,
        allowPositionals: opts.positionals ?? false,
        options: { ...options, help: { type: 'boolean', short: 'h' } },
      })
      flags = parsed.values as Flags<O> & { help?: boolean }
      positionals = parsed.positionals
    } catch (err) {
      if (!(err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) throw err
      process.stderr.write(`fogline: error FOG_CONFIG_INVALID: ${(err as Error).message}\n\n${help}`)
      return 2
    }
    if (flags.help) {
      process.stdout.write(help)
      return 0
    }
    try {
      return await body(flags, positionals)
    } catch (err) {
      return reportError(err)
    }
  }
}

/** A flag the command cannot run without: FOG_CONFIG_INVALID naming it. */
export function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === '')
    throw new FoglineError('FOG_CONFIG_INVALID', `${flag} is required`, { field: flag.split(' ')[0] ?? flag })
  return value
}

/**
 * Plain string flags (no short form, no default), by name: the most common kind of flag.
 * @example defineCommand(help, { ...stringFlags('file', 'timeout'), json: { type: 'boolean' } }, body)
 */
export function stringFlags<const N extends string>(...names: N[]): { [K in N]: { type: 'string' } } {
  return Object.fromEntries(names.map((n) => [n, { type: 'string' }])) as { [K in N]: { type: 'string' } }
}

/** The flags of every command that talks to the cloud's API: where it is and the bearer token. */
export const API_FLAGS = stringFlags('url', 'token')
/** The flags of a command that acts on one node or one group (`--node ID | --group G`) through the API. */
export const NODE_OR_GROUP_FLAGS = { ...API_FLAGS, ...stringFlags('node', 'group') }
/** The flags of a command that signs for a node or a group: NODE_OR_GROUP_FLAGS and the operator key. */
export const TARGET_FLAGS = { ...NODE_OR_GROUP_FLAGS, ...stringFlags('key') }
