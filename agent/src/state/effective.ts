import { HTTP_STATUS_OF, type AdminState, type StateRecord } from './model.js'

/** Why the load balancers get the answer they get. */
export type Cause = 'admin' | 'no-state'

export interface Verdict {
  state: AdminState
  httpStatus: number
  cause: Cause
  /** One line for an operator when the answer is not simply the admin state; null otherwise. */
  why: string | null
}

export interface DecisionInputs {
  admin: StateRecord | null
  stateFileProblem: string | null
}

/**
 * The state answered to the load balancers. Only a readable admin state can make it ready:
 * with no good state known (a corrupt file at start) the answer is down.
 */
export function decide(inputs: DecisionInputs): Verdict {
  if (!inputs.admin) {
    return {
      state: 'down',
      httpStatus: HTTP_STATUS_OF.down,
      cause: 'no-state',
      why: `no valid admin state: ${inputs.stateFileProblem ?? 'the state file has not been read'}`,
    }
  }
  const state = inputs.admin.state
  return { state, httpStatus: HTTP_STATUS_OF[state], cause: 'admin', why: null }
}

export function sameVerdict(a: Verdict, b: Verdict): boolean {
  return a.state === b.state && a.cause === b.cause && a.why === b.why
}
