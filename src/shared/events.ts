/** A tiny typed event emitter: the node's event bus that the UI's event stream follows. */
export class TypedEmitter<Events extends Record<string, unknown>> {
  #listeners = new Map<keyof Events, Set<(payload: never) => void>>()

  on<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): () => void {
    let set = this.#listeners.get(type)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(type, set)
    }
    set.add(listener as (payload: never) => void)
    return () => set.delete(listener as (payload: never) => void)
  }

  emit<K extends keyof Events>(type: K, payload: Events[K]): void {
    for (const listener of this.#listeners.get(type) ?? []) {
      try {
        ;(listener as (p: Events[K]) => void)(payload)
      } catch (err) {
        // A broken listener must not break the emitter or its other listeners.
        queueMicrotask(() => {
          throw err
        })
      }
    }
  }
}
