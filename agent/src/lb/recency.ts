interface Entry<T> {
  readonly key: string
  readonly value: T
  prev: Entry<T> | null
  next: Entry<T> | null
}

/**
 * Values by key in order of last use, the least recently used first. Using a value moves it to the
 * end by relinking two neighbours: one map lookup, where deleting and re-adding a key to keep a
 * Map in that order costs two more and a table that keeps filling with deleted slots (the views
 * of the load balancers are used on every check).
 */
export class RecencyMap<T> {
  private readonly entries = new Map<string, Entry<T>>()
  private head: Entry<T> | null = null
  private tail: Entry<T> | null = null

  get size(): number {
    return this.entries.size
  }

  /** The value of `key`, now the most recently used; undefined if there is none. */
  use(key: string): T | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry !== this.tail) {
      this.unlink(entry)
      this.append(entry)
    }
    return entry.value
  }

  /** Adds a value under a key not in the map yet, as the most recently used. */
  add(key: string, value: T): void {
    if (this.entries.has(key)) throw new Error(`RecencyMap: ${key} is already there`)
    const entry: Entry<T> = { key, value, prev: null, next: null }
    this.entries.set(key, entry)
    this.append(entry)
  }

  /** The least recently used value, or undefined when empty. */
  oldest(): T | undefined {
    return this.head?.value
  }

  /** Removes the least recently used value. */
  dropOldest(): void {
    const entry = this.head
    if (!entry) return
    this.unlink(entry)
    this.entries.delete(entry.key)
  }

  /** The values, least recently used first. */
  values(): T[] {
    const out: T[] = []
    for (let entry = this.head; entry; entry = entry.next) out.push(entry.value)
    return out
  }

  private append(entry: Entry<T>): void {
    entry.prev = this.tail
    entry.next = null
    if (this.tail) this.tail.next = entry
    else this.head = entry
    this.tail = entry
  }

  private unlink(entry: Entry<T>): void {
    if (entry.prev) entry.prev.next = entry.next
    else this.head = entry.next
    if (entry.next) entry.next.prev = entry.prev
    else this.tail = entry.prev
    entry.prev = null
    entry.next = null
  }
}
