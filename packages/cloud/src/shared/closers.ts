import type { Logger } from 'pino'

/** Cleanup steps run in reverse order of adding; one failing step is logged and the rest still run. */
export class Closers {
  private readonly fns: Array<() => Promise<void> | void> = []
  private closing: Promise<void> | undefined

  constructor(private readonly logger: Logger) {}

  add(fn: () => Promise<void> | void): void {
    this.fns.push(fn)
  }

  /** Run every step once; later calls return the same promise. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const c of this.fns.splice(0).reverse()) {
        try {
          await c()
        } catch (err) {
          this.logger.warn({ err: (err as Error).message }, 'error while stopping')
        }
      }
    })()
    return this.closing
  }
}
