/** mulberry32: tiny, fast, seedable; good enough for simulated noise (not for crypto). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** FNV-1a of a string mixed with the run seed, so each sensor gets its own reproducible stream. */
export function seedFor(seed: number, id: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0
  return h
}

/** Standard normal via Box-Muller. */
export function gauss(rnd: () => number): number {
  const u = 1 - rnd()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd())
}
