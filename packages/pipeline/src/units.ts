/**
 * Unit conversion for common sensor units, by dimension: each unit is a factor, or [factor, offset], onto its
 * dimension's base unit (the one with factor 1): base = v * factor + offset.
 */
const F_OFFSET = 273.15 - (32 * 5) / 9
const DIMENSIONS: Record<string, Record<string, number | [number, number]>> = {
  temperature: { K: 1, '°C': [1, 273.15], C: [1, 273.15], '°F': [5 / 9, F_OFFSET], F: [5 / 9, F_OFFSET] },
  pressure: { Pa: 1, hPa: 100, mbar: 100, kPa: 1000, MPa: 1e6, bar: 1e5, psi: 6894.757293168, atm: 101325 },
  length: { mm: 0.001, cm: 0.01, m: 1, km: 1000, in: 0.0254, ft: 0.3048 },
  speed: { 'm/s': 1, 'km/h': 1 / 3.6, mph: 0.44704 },
  mass: { g: 0.001, kg: 1, lb: 0.45359237 },
  energy: { J: 1, kWh: 3.6e6, Wh: 3600 },
  power: { W: 1, kW: 1000 },
  ratio: { '%': 0.01, ratio: 1 },
}

const UNITS: Record<string, { dim: string; f: number; o?: number }> = {}
for (const [dim, units] of Object.entries(DIMENSIONS))
  for (const [unit, u] of Object.entries(units))
    UNITS[unit] = typeof u === 'number' ? { dim, f: u } : { dim, f: u[0], o: u[1] }

export const UNIT_NAMES = Object.keys(UNITS)

/** A converter `to(from(v))` as one scale and offset: out = v * scale + offset. */
export function unitConversion(from: string, to: string): { scale: number; offset: number } | string {
  const a = UNITS[from]
  const b = UNITS[to]
  if (!a) return `unknown unit "${from}" (known: ${UNIT_NAMES.join(', ')})`
  if (!b) return `unknown unit "${to}" (known: ${UNIT_NAMES.join(', ')})`
  if (a.dim !== b.dim) return `cannot convert ${a.dim} (${from}) to ${b.dim} (${to})`
  // base = v*fa + oa; out = (base - ob) / fb
  return { scale: a.f / b.f, offset: ((a.o ?? 0) - (b.o ?? 0)) / b.f }
}
