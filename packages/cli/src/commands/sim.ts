import { run as simRun } from '@fogline/simulators'

export const help = 'Usage: fogline sim --config FILE [--duration S]\n'

/** `fogline sim` is implemented by @fogline/simulators. */
export function run(argv: string[]): Promise<number> {
  return simRun(argv)
}
