/** Ogg Vorbis test files, encoded by libvorbis (wasm-media-encoders, a dev dependency): no Vorbis encoder is on the machine. */
import { createOggEncoder } from 'wasm-media-encoders'
import type { Pcm } from '../../src/library/demo/synth.ts'

/** `pcm` as an Ogg Vorbis file (quality 0–10; libvorbis's default is 3). */
export async function oggVorbisBytes(pcm: Pcm, { quality = 3, mono = false } = {}): Promise<Uint8Array> {
  const encoder = await createOggEncoder()
  encoder.configure({ channels: mono ? 1 : 2, sampleRate: pcm.sampleRate, vbrQuality: quality })
  const parts: Uint8Array[] = []
  const block = 4096
  for (let at = 0; at < pcm.left.length; at += block) {
    const channels = mono ? [pcm.left] : [pcm.left, pcm.right]
    // The encoder reuses its output buffer: copy each piece out.
    parts.push(encoder.encode(channels.map((c) => c.subarray(at, at + block))).slice())
  }
  parts.push(encoder.finalize().slice())
  return Buffer.concat(parts)
}
