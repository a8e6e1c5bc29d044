/** Anything with on/off, such as the state store and the Tomcat monitor. */
export interface ChangeEmitter {
  on(event: string, listener: () => void): unknown
  off(event: string, listener: () => void): unknown
}

/** One subscription to several emitters' events, as the page feed wants it: subscribe returns its own undo. */
export function followChanges(sources: ReadonlyArray<readonly [ChangeEmitter, readonly string[]]>): (listener: () => void) => () => void {
  return (listener) => {
    for (const [emitter, events] of sources) for (const event of events) emitter.on(event, listener)
    return () => {
      for (const [emitter, events] of sources) for (const event of events) emitter.off(event, listener)
    }
  }
}
