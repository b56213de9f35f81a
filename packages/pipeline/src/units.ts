/**
 * Unit conversion for common sensor units: each unit is (factor, offset) onto its dimension's base unit,
 * base = v * factor + offset. Temperature: K; pressure: Pa; length: m; speed: m/s; mass: kg; energy: J; power: W.
 */
const UNITS: Record<string, { dim: string; f: number; o?: number }> = {
  K: { dim: 'temperature', f: 1 },
  '°C': { dim: 'temperature', f: 1, o: 273.15 },
  C: { dim: 'temperature', f: 1, o: 273.15 },
  '°F': { dim: 'temperature', f: 5 / 9, o: 273.15 - (32 * 5) / 9 },
  F: { dim: 'temperature', f: 5 / 9, o: 273.15 - (32 * 5) / 9 },
  Pa: { dim: 'pressure', f: 1 },
  hPa: { dim: 'pressure', f: 100 },
  mbar: { dim: 'pressure', f: 100 },
  kPa: { dim: 'pressure', f: 1000 },
  MPa: { dim: 'pressure', f: 1e6 },
  bar: { dim: 'pressure', f: 1e5 },
  psi: { dim: 'pressure', f: 6894.757293168 },
  atm: { dim: 'pressure', f: 101325 },
  mm: { dim: 'length', f: 0.001 },
  cm: { dim: 'length', f: 0.01 },
  m: { dim: 'length', f: 1 },
  km: { dim: 'length', f: 1000 },
  in: { dim: 'length', f: 0.0254 },
  ft: { dim: 'length', f: 0.3048 },
  'm/s': { dim: 'speed', f: 1 },
  'km/h': { dim: 'speed', f: 1 / 3.6 },
  mph: { dim: 'speed', f: 0.44704 },
  g: { dim: 'mass', f: 0.001 },
  kg: { dim: 'mass', f: 1 },
  lb: { dim: 'mass', f: 0.45359237 },
  J: { dim: 'energy', f: 1 },
  kWh: { dim: 'energy', f: 3.6e6 },
  Wh: { dim: 'energy', f: 3600 },
  W: { dim: 'power', f: 1 },
  kW: { dim: 'power', f: 1000 },
  '%': { dim: 'ratio', f: 0.01 },
  ratio: { dim: 'ratio', f: 1 },
}

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
