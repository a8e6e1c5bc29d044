import { setTimeout as delay } from 'node:timers/promises'

/**
 * Polls `probe` until it returns a value other than undefined/false, or throws after the
 * deadline with the description and the last value seen. Tests wait on conditions, never sleep.
 */
export async function waitFor<T>(
  description: string,
  probe: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 10 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<Exclude<T, false | undefined>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      last = await probe()
      if (last !== undefined && last !== false) return last as Exclude<T, false | undefined>
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${description}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
      )
    }
    await delay(intervalMs)
  }
}
