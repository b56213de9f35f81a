/** Deterministic gaussian noise for the anomaly tests (Box–Muller on a seeded LCG). */
export function noise(seed: number): () => number {
  let s = seed >>> 0
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return (s + 0.5) / 4294967296
  }
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u())
}
