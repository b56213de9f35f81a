import { statfsSync } from 'node:fs'

/** Bytes free to an unprivileged writer on the file system holding `dir`, or null when it cannot be read. */
export function diskFree(dir: string): number | null {
  try {
    const fs = statfsSync(dir)
    return fs.bavail * fs.bsize
  } catch {
    return null
  }
}
