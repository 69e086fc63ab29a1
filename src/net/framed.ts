/**
 * Framed, schema-checked messages over a libp2p stream: every Tutti protocol
 * speaks varint-length-prefixed CBOR frames, each decoded and validated with
 * the protocol's zod schema. Anything malformed (oversized frame, bad CBOR,
 * wrong shape) becomes a `WireError` — never a crash — and the caller resets
 * the stream.
 */
import type { AbortOptions, Stream } from '@libp2p/interface'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import { decode, encode } from 'cborg'
import type { z } from 'zod'
import { TuttiError } from '../shared/errors.ts'

export class WireError extends TuttiError {
  constructor(message: string, options?: ErrorOptions) {
    super('WIRE_MALFORMED', message, 400, options)
  }
}

/** Encode one message (validated against its schema first, so we never send what we would refuse). */
export function encodeMessage<T>(schema: z.ZodType<T>, message: T): Uint8Array {
  const checked = schema.safeParse(message)
  if (!checked.success) throw new WireError(`refusing to send invalid message: ${checked.error.message}`)
  return encode(checked.data)
}

/** Decode and validate one frame. Throws `WireError` on anything malformed. */
export function decodeMessage<T>(schema: z.ZodType<T>, bytes: Uint8Array, maxBytes: number): T {
  if (bytes.byteLength > maxBytes)
    throw new WireError(`frame of ${bytes.byteLength} bytes exceeds ${maxBytes}`)
  let raw: unknown
  try {
    raw = decode(bytes, { useMaps: false, rejectDuplicateMapKeys: true })
  } catch (err) {
    throw new WireError(`undecodable CBOR: ${(err as Error).message}`, { cause: err })
  }
  const parsed = schema.safeParse(raw)
  if (!parsed.success) throw new WireError(`schema mismatch: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
  return parsed.data
}

export interface FramedOptions {
  /** Largest frame accepted, in bytes. Required: every protocol bounds its messages. */
  maxMessageBytes: number
}

/** A duplex of typed messages. `In` is what we read, `Out` what we write. */
export class FramedStream<In, Out> {
  readonly stream: Stream
  readonly #lp: LengthPrefixedStream<Stream>
  readonly #in: z.ZodType<In>
  readonly #out: z.ZodType<Out>
  readonly #max: number

  constructor(stream: Stream, inSchema: z.ZodType<In>, outSchema: z.ZodType<Out>, options: FramedOptions) {
    this.stream = stream
    this.#in = inSchema
    this.#out = outSchema
    this.#max = options.maxMessageBytes
    this.#lp = lpStream(stream, { maxDataLength: options.maxMessageBytes })
  }

  /** Next message, or `undefined` when the remote closed its side. Throws `WireError` on malformed input. */
  async read(options?: AbortOptions): Promise<In | undefined> {
    let frame: Uint8Array
    try {
      frame = (await this.#lp.read(options)).subarray()
    } catch (err) {
      const name = (err as Error).name
      if (name === 'UnexpectedEOFError') return undefined
      if (
        name === 'InvalidDataLengthError' ||
        name === 'InvalidDataLengthLengthError' ||
        name === 'InvalidMessageLengthError'
      ) {
        throw new WireError((err as Error).message, { cause: err })
      }
      throw err
    }
    return decodeMessage(this.#in, frame, this.#max)
  }

  /** Write one message; resolves once the stream accepted it (waits for drain: backpressure). */
  async write(message: Out, options?: AbortOptions): Promise<void> {
    await this.#lp.write(encodeMessage(this.#out, message), options)
  }

  async *messages(options?: AbortOptions): AsyncGenerator<In> {
    while (true) {
      const message = await this.read(options)
      if (message === undefined) return
      yield message
    }
  }

  async close(options?: AbortOptions): Promise<void> {
    await this.stream.close(options).catch(() => {})
  }

  /** Reset the stream: the right answer to a malformed or hostile message. */
  abort(err: Error): void {
    this.stream.abort(err)
  }
}
