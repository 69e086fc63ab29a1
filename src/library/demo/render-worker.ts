/** Worker thread entry: renders the demo tracks it is sent (by index) and posts their file bytes back, transferred. */
import { parentPort } from 'node:worker_threads'
import { renderDemoFile } from './generate.ts'

parentPort?.on('message', (index: number) => {
  const bytes = renderDemoFile(index)
  parentPort?.postMessage(bytes, [bytes.buffer as ArrayBuffer])
})
