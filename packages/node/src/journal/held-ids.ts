/**
 * QoS 2 packet ids held per client, as the journal's id records build them. A record of seq 0 is not a reading
 * but an id's state (replay never returns it): its ts field says what (HOLD, RELEASE, CLEAR), its topic is the
 * client id and its payload the u16 packet id (none for CLEAR). The journal writes a HOLD in the group commit
 * of the reading it came with, a RELEASE at the PUBREL and a CLEAR for a clean session, and restates every id
 * still held in its current segment before a checkpoint deletes a segment that took one.
 */
export const HOLD = 1
export const RELEASE = 2
export const CLEAR = 3

/** an id record's payload */
export function idPayload(kind: number, messageId: number): Buffer {
  const b = Buffer.allocUnsafe(kind === CLEAR ? 0 : 2)
  if (kind !== CLEAR) b.writeUInt16BE(messageId, 0)
  return b
}

export class HeldIds {
  private readonly ids = new Map<string, Set<number>>()

  /** ids held, over all clients */
  get size(): number {
    let n = 0
    for (const set of this.ids.values()) n += set.size
    return n
  }

  /** apply an id record (its payload as written by `idPayload`) */
  applyRecord(kind: number, clientId: string, payload: Buffer): void {
    this.apply(kind, clientId, payload.length >= 2 ? payload.readUInt16BE(0) : 0)
  }

  apply(kind: number, clientId: string, messageId: number): void {
    const set = this.ids.get(clientId)
    if (kind === HOLD) {
      if (set === undefined) this.ids.set(clientId, new Set([messageId]))
      else set.add(messageId)
    } else if (set !== undefined && kind === RELEASE) {
      set.delete(messageId)
      if (set.size === 0) this.ids.delete(clientId)
    } else if (kind === CLEAR) this.ids.delete(clientId)
  }

  has(clientId: string, messageId: number): boolean {
    return this.ids.get(clientId)?.has(messageId) === true
  }

  hasClient(clientId: string): boolean {
    return this.ids.has(clientId)
  }

  /** every id held, as [client id, packet id] */
  *entries(): IterableIterator<[string, number]> {
    for (const [clientId, set] of this.ids) for (const m of set) yield [clientId, m]
  }
}
