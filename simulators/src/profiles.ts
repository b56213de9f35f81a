import type { SimConfig } from '@fogline/protocol'
import { gauss } from './prng.js'

type SensorSpec = SimConfig['sensors'][number]

/** One reading's body before anomalies: value plus extra fields (lat/lon for gps). */
export interface Sample {
  value: number
  lat?: number
  lon?: number
}

/** A profile keeps its own state and draws from the sensor's PRNG only, so a seed reproduces it. */
export type Profile = (ts: number, rnd: () => number) => Sample

const TAU = 2 * Math.PI

export function makeProfile(spec: SensorSpec, rnd: () => number): Profile {
  const { base, noise, amplitude, period } = spec
  const phase = rnd() * TAU
  const cycle = (ts: number) => Math.sin((TAU * ts) / period + phase)
  switch (spec.profile) {
    case 'constant':
      return (_ts, r) => ({ value: base + noise * gauss(r) })
    case 'temperature':
      return (ts, r) => ({ value: base + amplitude * cycle(ts) + noise * gauss(r) })
    case 'vibration': {
      // bursts: ~1 % of readings start a burst of 5-30 readings at amplitude × |N(0,1)|
      let burst = 0
      return (_ts, r) => {
        if (burst === 0 && r() < 0.01) burst = 5 + Math.floor(r() * 25)
        const extra = burst > 0 ? amplitude * Math.abs(gauss(r)) : 0
        if (burst > 0) burst--
        return { value: base + extra + noise * Math.abs(gauss(r)) }
      }
    }
    case 'humidity': {
      let walk = 0
      return (ts, r) => {
        walk = Math.max(-10, Math.min(10, walk + 0.05 * gauss(r)))
        const v = base - amplitude * cycle(ts) + walk + noise * gauss(r)
        return { value: Math.max(0, Math.min(100, v)) }
      }
    }
    case 'co2':
      // occupancy: high during the "day" half of the cycle
      return (ts, r) => ({ value: base + amplitude * Math.max(0, cycle(ts)) + noise * gauss(r) })
    case 'power': {
      let load = 0.5
      return (_ts, r) => {
        if (r() < 0.02) load = r()
        return { value: Math.max(0, base + amplitude * load + noise * gauss(r)) }
      }
    }
    case 'gps': {
      // value = speed (km/h); position moves along a heading that turns a little each reading
      let lat = 52.37 + (rnd() - 0.5) * 0.1
      let lon = 4.89 + (rnd() - 0.5) * 0.1
      let heading = rnd() * TAU
      let last = 0
      return (ts, r) => {
        const speed = Math.max(0, base + amplitude * Math.sin(heading) + noise * gauss(r))
        const dt = last ? (ts - last) / 3_600_000 : 0
        last = ts
        heading += 0.1 * gauss(r)
        const km = speed * dt
        lat += (km / 111) * Math.cos(heading)
        lon += (km / (111 * Math.cos((lat * Math.PI) / 180))) * Math.sin(heading)
        return { value: speed, lat, lon }
      }
    }
  }
}
