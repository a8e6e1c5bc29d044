/**
 * A value built at most once per `ms`, and again at once after a change: the health listener's
 * status is read by anyone who reaches it (fifty pages loading at once, a script polling `/`), and
 * building it goes over every load balancer view.
 */
export function memoized<T>(build: () => T, ms: number, onChange: (listener: () => void) => () => void): { get(): T; close(): void } {
  let value: T | undefined
  let builtAt = -Infinity
  const unsubscribe = onChange(() => {
    builtAt = -Infinity
  })
  return {
    get: () => {
      const now = performance.now()
      if (value === undefined || now - builtAt >= ms) {
        value = build()
        builtAt = now
      }
      return value
    },
    close: unsubscribe,
  }
}
