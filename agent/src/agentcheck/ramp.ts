import type { RampSettings } from '../protocol/status.js'
export type { RampSettings }
export interface RampPosition {
  percent: number
  /** 0 at the start, `steps` once the ramp is over. */
  step: number
  steps: number
  /** Elapsed share of the ramp's time, 0 to 1. */
  progress: number
  done: boolean
}

/**
 * Where a ramp stands `elapsedMs` after it began: a staircase from startPercent to 100 in `steps`
 * equal increases of durationMs/steps each, whole percentages only (HAProxy 2.6 takes `N%`).
 */
export function rampAt(settings: RampSettings, elapsedMs: number): RampPosition {
  const { startPercent, durationMs, steps } = settings
  if (durationMs <= 0 || startPercent >= 100 || elapsedMs >= durationMs) {
    return { percent: 100, step: steps, steps, progress: 1, done: true }
  }
  const elapsed = Math.max(0, elapsedMs)
  const step = Math.min(steps - 1, Math.floor((elapsed * steps) / durationMs))
  const percent = Math.round(startPercent + ((100 - startPercent) * step) / steps)
  return { percent, step, steps, progress: elapsed / durationMs, done: false }
}

/** Every step of a ramp: when it begins (ms after the start) and its weight. */
export function rampSchedule(settings: RampSettings): Array<{ atMs: number; percent: number }> {
  if (settings.durationMs <= 0 || settings.startPercent >= 100) return [{ atMs: 0, percent: 100 }]
  const schedule: Array<{ atMs: number; percent: number }> = []
  for (let step = 0; step <= settings.steps; step++) {
    const atMs = Math.ceil((settings.durationMs * step) / settings.steps)
    schedule.push({ atMs, percent: rampAt(settings, atMs).percent })
  }
  return schedule
}
