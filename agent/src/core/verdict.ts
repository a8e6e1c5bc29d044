import { decide, sameVerdict, type DecisionInputs, type Verdict } from '../state/effective.js'

export interface VerdictChange {
  previous: Verdict
  next: Verdict
  /** What moved it: the admin change's source (api, file...), or the Tomcat monitor's cause. */
  source: string
  /** False before the agent has started: the first reading is the start, not a transition. */
  started: boolean
}

/**
 * The effective state as a small state machine: it is decided again from the current facts
 * whenever one of them moves, and a change is reported once, with what moved it.
 */
export class VerdictKeeper {
  private current: Verdict
  private started = false

  constructor(
    private readonly inputs: () => DecisionInputs,
    private readonly onChange: (change: VerdictChange) => void,
  ) {
    this.current = decide(inputs())
  }

  get(): Verdict {
    return this.current
  }

  get hasBegun(): boolean {
    return this.started
  }

  /** Decides again; reports a change (with its source) only when the verdict differs. */
  recompute(source: string): void {
    const next = decide(this.inputs())
    if (sameVerdict(next, this.current)) return
    const previous = this.current
    this.current = next
    this.onChange({ previous, next, source, started: this.started })
  }

  /** The start: the verdict from the facts read at start, after which changes are transitions. */
  begin(): Verdict {
    this.current = decide(this.inputs())
    this.started = true
    return this.current
  }
}
