/**
 * One long-lived outbound stream per (neighbour, protocol), reused for every
 * message: a flooded query or a returning result costs one frame on a stream
 * that is already open, not a stream open plus protocol negotiation each time.
 * Writes to one stream are serialised; a stream that fails is dropped and the
 * next message opens a fresh one (retried once); an idle stream is closed.
 */
import type { PeerId } from '@libp2p/interface'
import type { z } from 'zod'
import { FramedStream } from '../net/framed.ts'
import type { TuttiLibp2p } from '../net/libp2p.ts'
import { NoMessage } from './schema.ts'

interface OpenStream {
  framed: FramedStream<never, unknown>
  /** Tail of the write chain: messages go out in order. */
  tail: Promise<void>
  lastUsed: number
}

export class NeighbourStreams {
  readonly #libp2p: TuttiLibp2p
  readonly #dialTimeoutMs: number
  readonly #idleMs: number
  readonly #streams = new Map<string, Promise<OpenStream>>()
  #sweeper: ReturnType<typeof setInterval> | undefined

  constructor(libp2p: TuttiLibp2p, options: { dialTimeoutMs: number; idleMs?: number }) {
    this.#libp2p = libp2p
    this.#dialTimeoutMs = options.dialTimeoutMs
    this.#idleMs = options.idleMs ?? 60_000
  }

  start(): void {
    if (this.#sweeper !== undefined) return
    this.#sweeper = setInterval(() => void this.#closeIdle(), Math.min(this.#idleMs, 15_000))
    this.#sweeper.unref()
  }

  async stop(): Promise<void> {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper)
    this.#sweeper = undefined
    const all = [...this.#streams.values()]
    this.#streams.clear()
    await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.framed.close()))
  }

  /** Sends one message to `peer` on `protocol`; rejects when it could not be written. */
  async send<T>(
    peer: PeerId,
    protocol: string,
    schema: z.ZodType<T>,
    message: T,
    maxBytes: number,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const key = `${peer.toString()} ${protocol}`
      let pending = this.#streams.get(key)
      if (pending === undefined) {
        pending = this.#open(peer, protocol, schema as z.ZodType<unknown>, maxBytes)
        this.#streams.set(key, pending)
        pending.catch(() => this.#streams.delete(key))
      }
      try {
        const open = await pending
        const write = open.tail.then(() =>
          open.framed.write(message, { signal: AbortSignal.timeout(this.#dialTimeoutMs) }),
        )
        open.tail = write.catch(() => {})
        open.lastUsed = performance.now()
        await write
        return
      } catch (err) {
        // A stale stream (the neighbour reset it, or the connection died): drop it, retry once fresh.
        if (this.#streams.get(key) === pending) this.#streams.delete(key)
        void pending.then((s) => s.framed.abort(err as Error)).catch(() => {})
        if (attempt >= 2) throw err
      }
    }
  }

  async #open(
    peer: PeerId,
    protocol: string,
    schema: z.ZodType<unknown>,
    maxBytes: number,
  ): Promise<OpenStream> {
    const stream = await this.#libp2p.dialProtocol(peer, protocol, {
      signal: AbortSignal.timeout(this.#dialTimeoutMs),
      runOnLimitedConnection: true,
    })
    const framed = new FramedStream(stream, NoMessage, schema, { maxMessageBytes: maxBytes })
    return { framed, tail: Promise.resolve(), lastUsed: performance.now() }
  }

  async #closeIdle(): Promise<void> {
    const now = performance.now()
    for (const [key, pending] of this.#streams) {
      const open = await pending.catch(() => undefined)
      if (open !== undefined && now - open.lastUsed > this.#idleMs && this.#streams.get(key) === pending) {
        this.#streams.delete(key)
        void open.tail.then(() => open.framed.close())
      }
    }
  }
}
