/** Guess an audio file's extension and MIME type from its first bytes (the swarm knows no file names). */
export function sniffAudio(head: Uint8Array): { ext: string; mime: string } {
  const ascii = (from: number, len: number): string => String.fromCharCode(...head.subarray(from, from + len))
  if (ascii(0, 4) === 'fLaC') return { ext: 'flac', mime: 'audio/flac' }
  if (ascii(0, 4) === 'OggS') return { ext: 'ogg', mime: 'audio/ogg' }
  if (ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WAVE') return { ext: 'wav', mime: 'audio/wav' }
  if (ascii(4, 4) === 'ftyp') return { ext: 'm4a', mime: 'audio/mp4' }
  if (ascii(0, 3) === 'ID3' || (head[0] === 0xff && ((head[1] ?? 0) & 0xe0) === 0xe0)) {
    return { ext: 'mp3', mime: 'audio/mpeg' }
  }
  return { ext: 'bin', mime: 'application/octet-stream' }
}
