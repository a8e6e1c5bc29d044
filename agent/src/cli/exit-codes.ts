/** agentctl's exit codes; scripts depend on them, so they never change meaning. */
export const EXIT = {
  OK: 0,
  /** the command ran but its goal was not reached (a wait timed out) */
  NOT_REACHED: 1,
  USAGE: 2,
  UNREACHABLE: 3,
  REFUSED: 4,
  FAILED: 5,
  /** agentctl canary: the watched host broke a limit (or gave too little to judge by) */
  CANARY_FAILED: 6,
} as const

export class UsageError extends Error {
  override name = 'UsageError'
}
