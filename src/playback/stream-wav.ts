/**
 * WAV for ./stream-song.ts: every source frame is at a known byte offset
 * (header, then fixed-size frames), so any range decodes on its own as soon
 * as its bytes are there.
 */
import type { ByteSource, StreamableSource } from './stream-song.ts'
import { decodeWavFrames, wavLayout } from './wav.ts'

/** The WAV behind `head` (its first bytes) as a streamable source, or undefined when the head does not say where its samples are. */
export function wavStreamable(head: Uint8Array, source: ByteSource): StreamableSource | undefined {
  let layout: ReturnType<typeof wavLayout>
  try {
    layout = wavLayout(head, source.size)
  } catch {
    return undefined
  }
  return {
    channels: layout.channels,
    sampleRate: layout.sampleRate,
    frames: Math.floor(layout.dataBytes / layout.blockAlign),
    async fill(from, to, into, progress, signal) {
      if (to <= from) return
      const start = layout.dataStart + from * layout.blockAlign
      const end = layout.dataStart + to * layout.blockAlign - 1
      let carry = new Uint8Array(0)
      let frame = from
      for await (const chunk of source.read(start, end, signal)) {
        const bytes = carry.length === 0 ? chunk : Buffer.concat([carry, chunk])
        const whole = bytes.length - (bytes.length % layout.blockAlign)
        frame += decodeWavFrames(bytes.subarray(0, whole), layout, into, frame)
        carry = bytes.slice(whole)
        progress(frame)
      }
    },
  }
}
