/** Worker thread entry: renders one demo track and posts its file bytes back (transferred, not copied). */
import { parentPort, workerData } from 'node:worker_threads'
import { renderDemoFile } from './generate.ts'

const bytes = renderDemoFile((workerData as { index: number }).index)
parentPort?.postMessage(bytes, [bytes.buffer as ArrayBuffer])
