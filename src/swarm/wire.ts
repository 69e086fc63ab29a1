/**
 * The swarm's framing over one libp2p stream, built for throughput.
 *
 * Frames are varint-length-prefixed like every Tutti protocol. Control
 * messages are CBOR maps checked by the zod schemas (`decodeMessage` /
 * `encodeMessage` from net/framed.ts); piece payloads travel as a binary
 * frame (`PIECE_FRAME_TAG`, see schema.ts) so 64 KiB of song is never
 * CBOR-encoded, decoded or copied on the way through.
 *
 * Reading is event driven: every complete frame in a chunk is parsed and
 * handed to the handler synchronously, without a promise per frame. Writing
 * coalesces control messages queued in the same tick into one `stream.send`
 * (one yamux frame, one noise message, one syscall) instead of one each.
 */
import type { AbortOptions, Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import type { z } from 'zod'
import { encodeMessage, WireError } from '../net/framed.ts'
import {
  type ClientMessage,
  clientMessageSchema,
  MAX_SERVER_FRAME_BYTES,
  parseServerFrame,
  type ServerMessage,
} from './schema.ts'

/** Longest varint length prefix we accept (4 bytes: frames up to 256 MiB, far above any bound). */
const MAX_LENGTH_BYTES = 4

export interface WireOptions<In, Out> {
  /** Parse one frame (without its length prefix). Throws `WireError` on anything malformed. */
  parse(frame: Uint8ArrayList): In
  outSchema: z.ZodType<Out>
  maxFrameBytes: number
}

/** Process-wide frame counters (cheap; the benchmark prints them to explain its CPU figures). */
export const wireStats = { framesIn: 0, framesOut: 0, sends: 0, bytesOut: 0 }

export function varintPrefix(length: number, extra = 0): Uint8Array {
  const out = new Uint8Array(MAX_LENGTH_BYTES + 1 + extra)
  let n = 0
  let v = length
  while (v >= 0x80) {
    out[n++] = (v & 0x7f) | 0x80
    v = Math.floor(v / 128)
  }
  out[n++] = v
  return out.subarray(0, n + extra)
}

export class SwarmWire<In, Out> {
  readonly stream: Stream
  readonly #options: WireOptions<In, Out>
  readonly #buf = new Uint8ArrayList()
  readonly #queue: In[] = []
  #pending: Uint8Array[] = []
  #flushQueued = false
  #handler: ((message: In) => void) | undefined
  #waiting: PromiseWithResolvers<void> | undefined
  #ended = false
  #error: Error | undefined
  readonly #done = Promise.withResolvers<void>()

  constructor(stream: Stream, options: WireOptions<In, Out>) {
    this.stream = stream
    this.#options = options
    this.#done.promise.catch(() => {})
    stream.addEventListener('message', (evt) => this.#onData(evt.data))
    stream.addEventListener('remoteCloseWrite', () => this.#end())
    stream.addEventListener('close', (evt) => this.#end((evt as { error?: Error }).error))
  }

  /** Resolves when the remote closed its side; rejects on a malformed frame or a handler error. */
  get done(): Promise<void> {
    return this.#done.promise
  }

  get ended(): boolean {
    return this.#ended
  }

  /** The next message before a handler is installed (handshakes); `undefined` at end of stream. */
  async read(options?: AbortOptions): Promise<In | undefined> {
    while (this.#queue.length === 0) {
      if (this.#error !== undefined) throw this.#error
      if (this.#ended) return undefined
      this.#waiting ??= Promise.withResolvers<void>()
      const waiting = this.#waiting.promise
      if (options?.signal === undefined) await waiting
      else {
        options.signal.throwIfAborted()
        const signal = options.signal
        await new Promise<void>((resolve, reject) => {
          const onAbort = (): void => reject(signal.reason)
          signal.addEventListener('abort', onAbort, { once: true })
          waiting.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
        })
      }
    }
    return this.#queue.shift()
  }

  /** From now on, hand every message to `handler` synchronously, in order (queued ones first). */
  onMessage(handler: (message: In) => void): Promise<void> {
    this.#handler = handler
    try {
      while (this.#queue.length > 0 && !this.#ended) handler(this.#queue.shift()!)
    } catch (err) {
      this.#fail(err as Error)
    }
    return this.done
  }

  #onData(data: Uint8Array | Uint8ArrayList): void {
    if (this.#error !== undefined) return
    this.#buf.append(data)
    try {
      while (true) {
        const available = this.#buf.byteLength
        let length = 0
        let at = 0
        let complete = false
        for (; at < Math.min(available, MAX_LENGTH_BYTES); at++) {
          const b = this.#buf.get(at)
          length += (b & 0x7f) * 2 ** (7 * at)
          if (b < 0x80) {
            complete = true
            break
          }
        }
        if (!complete) {
          if (available >= MAX_LENGTH_BYTES) throw new WireError('frame length prefix too long')
          return
        }
        if (length > this.#options.maxFrameBytes) {
          throw new WireError(`frame of ${length} bytes exceeds ${this.#options.maxFrameBytes}`)
        }
        const end = at + 1 + length
        if (available < end) return
        const frame = this.#buf.sublist(at + 1, end)
        this.#buf.consume(end)
        wireStats.framesIn++
        const message = this.#options.parse(frame)
        if (this.#handler !== undefined) this.#handler(message)
        else {
          this.#queue.push(message)
          this.#wake()
        }
        if (this.#error !== undefined || this.#ended) return
      }
    } catch (err) {
      this.#fail(err as Error)
    }
  }

  #wake(): void {
    const w = this.#waiting
    this.#waiting = undefined
    w?.resolve()
  }

  #end(error?: Error): void {
    if (this.#ended) return
    this.#ended = true
    if (error !== undefined && this.#error === undefined) this.#error = error
    this.#wake()
    if (this.#error !== undefined) this.#done.reject(this.#error)
    else this.#done.resolve()
  }

  #fail(err: Error): void {
    if (this.#error !== undefined) return
    this.#error = err
    if (err instanceof WireError) this.stream.abort(err)
    this.#end(err)
  }

  /** Queue a control message; everything queued in this tick leaves in one send. */
  send(message: Out): void {
    if (this.#ended && this.#error !== undefined) return
    const body = encodeMessage(this.#options.outSchema, message)
    wireStats.framesOut++
    this.#pending.push(varintPrefix(body.byteLength), body)
    if (!this.#flushQueued) {
      this.#flushQueued = true
      queueMicrotask(() => this.flush())
    }
  }

  /** Send queued control messages now. Returns false when the stream wants a drain first. */
  flush(): boolean {
    this.#flushQueued = false
    if (this.#pending.length === 0) return !this.stream.writableNeedsDrain
    const list = new Uint8ArrayList(...this.#pending)
    this.#pending = []
    return this.#sendRaw(list)
  }

  /** Queue a prebuilt frame (prefix and body) after the pending control messages. */
  sendFrame(parts: Uint8Array[]): boolean {
    wireStats.framesOut++
    this.#pending.push(...parts)
    return this.flush()
  }

  #sendRaw(list: Uint8ArrayList): boolean {
    wireStats.sends++
    wireStats.bytesOut += list.byteLength
    try {
      return this.stream.send(list)
    } catch (err) {
      this.#fail(err as Error)
      return false
    }
  }

  /** Waits until the stream has room again (backpressure). */
  async drained(options?: AbortOptions): Promise<void> {
    if (this.stream.writableNeedsDrain) await this.stream.onDrain(options)
  }

  async close(): Promise<void> {
    this.flush()
    await this.stream.close().catch(() => {})
  }

  abort(err: Error): void {
    this.#fail(err instanceof WireError ? err : new WireError(err.message, { cause: err }))
    this.stream.abort(err)
  }
}

/** Our end of a swarm stream we opened to fetch a song: we send hello and requests, the peer serves. */
export function clientWire(stream: Stream): SwarmWire<ServerMessage, ClientMessage> {
  return new SwarmWire(stream, {
    parse: parseServerFrame,
    outSchema: clientMessageSchema,
    maxFrameBytes: MAX_SERVER_FRAME_BYTES,
  })
}
