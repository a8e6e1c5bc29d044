import type { ServerResponse } from 'node:http'

interface Held {
  timer: NodeJS.Timeout
  answer: () => void
}

/**
 * Checks held open (see lb/hold.ts): each is answered once, by whichever comes first of its
 * hold running out, `releaseAll()` (the answer changed, a wait began, the agent is closing) or
 * nothing at all if the load balancer hung up first (`onCut`, with how long it had been held).
 */
export class HeldChecks {
  private readonly held = new Map<ServerResponse, Held>()

  get size(): number {
    return this.held.size
  }

  hold(response: ServerResponse, ms: number, answer: () => void, onCut?: (heldMs: number) => void): void {
    const heldAt = performance.now()
    const release = () => {
      if (this.held.delete(response)) {
        clearTimeout(entry.timer)
        answer()
      }
    }
    const entry: Held = { timer: setTimeout(release, ms), answer: release }
    this.held.set(response, entry)
    response.once('close', () => {
      if (!this.held.delete(response)) return
      clearTimeout(entry.timer)
      onCut?.(Math.round(performance.now() - heldAt))
    })
  }

  /** Answers every held check now, each with the answer of this moment. */
  releaseAll(): void {
    for (const entry of [...this.held.values()]) entry.answer()
  }
}
