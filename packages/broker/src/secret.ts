import { createHash, timingSafeEqual } from 'node:crypto'

/** Constant-time comparison, so a wrong password's timing does not tell how much of it was right. */
export function sameSecret(given: Buffer | string, want: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(want).digest()
  return timingSafeEqual(a, b)
}
