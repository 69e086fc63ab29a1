/** Playback: timeline maths, decoding, the block renderer and the node's headless player. */
export { type DecodedSong, decodeAudio, decodeAudioFile, detectFormat, OUTPUT_SAMPLE_RATE } from './decode.ts'
export { CorruptAudioError, InvalidOutputError, UnsupportedAudioError } from './errors.ts'
export {
  createHeadlessPlayer,
  type HeadlessPlayer,
  type HeadlessPlayerComponents,
  type HeadlessPlayerInit,
  PLAYER_SAMPLE_RATE,
} from './headless-player.ts'
export {
  type LameGapless,
  MP3_DECODER_DELAY,
  readLameGapless,
  withLameInfoFrame,
} from './mp3-info.ts'
export { parseOutput, RECORDING_CHUNK_ID, type RecordingInfo } from './outputs.ts'
export { BlockRenderer, type PlayheadMapping } from './renderer.ts'
export { librarySongLoader } from './song-loader.ts'
export {
  durationSeconds,
  entryStartPartyTime,
  type Located,
  locate,
  pausedAt,
  positionAt,
  type QueueEntry,
  resumedAt,
  seekedTo,
  type Timeline,
} from './timeline.ts'
