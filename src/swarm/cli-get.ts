/**
 * `tutti get <cid>`: fetch a song through the running node (its local API) or
 * through a swarm in this process, with a progress bar, and print where the
 * song landed.
 */
import type { ApiClient } from '../cli/api-client.ts'
import { createProgressBar } from '../cli/progress-bar.ts'
import type { DownloadInfo, Swarm } from './types.ts'

const POLL_MS = 500

export interface GetIo {
  stdout?: { isTTY?: boolean; columns?: number; write(chunk: string): unknown }
  providers?: string[]
  signal?: AbortSignal
}

function label(d: DownloadInfo): string {
  const rate = `${(d.rateBps / 1024 / 1024).toFixed(1)} MiB/s`
  const eta = d.etaSec === undefined ? '' : ` eta ${Math.ceil(d.etaSec)} s`
  return `${d.state} ${d.percent.toFixed(0)}% ${rate} from ${d.sources.length}/${d.peers} peers${eta}`
}

/** Downloads `cid` and resolves with its final info (state 'done', `path` set). */
export async function runGet(target: ApiClient | Swarm, cid: string, io: GetIo = {}): Promise<DownloadInfo> {
  const out = io.stdout ?? process.stdout
  const bar = createProgressBar(out)
  const show = (d: DownloadInfo): void => bar.update(d.piecesDone, d.pieces ?? 0, label(d))
  try {
    let final: DownloadInfo
    if ('baseUrl' in target) {
      await target.post('/api/downloads', { cid, providers: io.providers }, io.signal)
      while (true) {
        const { download } = await target.get<{ download: DownloadInfo }>(
          `/api/downloads/${encodeURIComponent(cid)}`,
          io.signal,
        )
        show(download)
        if (download.state === 'done') {
          final = download
          break
        }
        if (download.state === 'failed' || download.state === 'cancelled') {
          throw new Error(
            `download ${download.state}${download.error === undefined ? '' : `: ${download.error}`}`,
          )
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS))
        io.signal?.throwIfAborted()
      }
    } else {
      const off = target.on('download:progress', (d) => {
        if (d.cid === cid) show(d)
      })
      try {
        final = await target.download(cid, { providers: io.providers, signal: io.signal })
      } finally {
        off()
      }
    }
    bar.done()
    out.write(`${final.path ?? cid}\n`)
    return final
  } finally {
    bar.done()
  }
}
