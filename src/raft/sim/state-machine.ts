/**
 * The replicated state machine the simulation runs when no other is given:
 * a hash chain over every applied command plus a counter. Two replicas with
 * equal digests at the same index applied the same commands in the same order.
 */
export interface SimStateMachine {
  apply(data: Uint8Array): void
  snapshot(): Uint8Array
  /** A short string equal on two replicas exactly when their states are equal. */
  digest(): string
}

export interface SimStateMachineFactory {
  /** `snapshot` undefined: the initial state. */
  create(snapshot: Uint8Array | undefined): SimStateMachine
  name: string
}

export const hashChainMachine: SimStateMachineFactory = {
  name: 'hash-chain counter',
  create(snapshot) {
    let count = 0
    let hash = 0x811c9dc5
    if (snapshot && snapshot.byteLength === 8) {
      const view = new DataView(snapshot.buffer, snapshot.byteOffset, 8)
      count = view.getUint32(0)
      hash = view.getUint32(4)
    }
    return {
      apply(data) {
        count++
        for (const byte of data) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0
        hash = Math.imul(hash ^ 0xff, 0x01000193) >>> 0 // separator, so "ab"+"c" differs from "a"+"bc"
      },
      snapshot() {
        const out = new Uint8Array(8)
        const view = new DataView(out.buffer)
        view.setUint32(0, count)
        view.setUint32(4, hash)
        return out
      },
      digest: () => `${count}:${hash.toString(16)}`,
    }
  },
}
