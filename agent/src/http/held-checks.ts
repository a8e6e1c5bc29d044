import type { ServerResponse } from 'node:http'

interface Held {
  timer: NodeJS.Timeout
  answer: () => void
}

/**
 * Checks held open (see lb/hold.ts): each is answered once, by whichever comes first of its
 * hold running out, `releaseAll()` (the answer changed, a wait began, the agent is closing) or
 * nothing at all if the load balancer hung up first.
 */
export class HeldChecks {
  private readonly held = new Map<ServerResponse, Held>()

  get size(): number {
    return this.held.size
  }

  hold(response: ServerResponse, ms: number, answer: () => void): void {
    const release = () => {
      if (this.held.delete(response)) {
        clearTimeout(entry.timer)
        answer()
      }
    }
    const entry: Held = { timer: setTimeout(release, ms), answer: release }
    this.held.set(response, entry)
    response.once('close', () => {
      if (this.held.delete(response)) clearTimeout(entry.timer)
    })
  }

  /** Answers every held check now, each with the answer of this moment. */
  releaseAll(): void {
    for (const entry of [...this.held.values()]) entry.answer()
  }
}
