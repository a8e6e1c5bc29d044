/** A held check's connection: a node:http response, or the socket of a check read directly. */
export type HeldConnection = { once(event: 'close', listener: () => void): unknown }

/**
 * Checks held open (see lb/hold.ts): each is answered once, by whichever comes first of its
 * hold running out, `releaseAll()` (the answer changed, a wait began, the agent is closing) or
 * nothing at all if the load balancer hung up first (`onCut`, with how long it had been held).
 * Once `close()` is called (the listener is closing), no check is held any more.
 */
export class HeldChecks {
  /** Each held check's release: answers it unless it was answered already. */
  private readonly held = new Map<HeldConnection, () => void>()
  private closed = false

  get size(): number {
    return this.held.size
  }

  hold(response: HeldConnection, ms: number, answer: () => void, onCut?: (heldMs: number) => void): void {
    if (this.closed) {
      answer()
      return
    }
    const heldAt = performance.now()
    const timer = setTimeout(() => release(), ms)
    const release = () => {
      if (!this.held.delete(response)) return
      clearTimeout(timer)
      answer()
    }
    this.held.set(response, release)
    response.once('close', () => {
      if (!this.held.delete(response)) return
      clearTimeout(timer)
      onCut?.(Math.round(performance.now() - heldAt))
    })
  }

  /** Answers every held check now, each with the answer of this moment. */
  releaseAll(): void {
    for (const release of [...this.held.values()]) release()
  }

  /** Answers every held check now, and every check from now on at once: a hold would keep the listener from closing. */
  close(): void {
    this.closed = true
    this.releaseAll()
  }
}
