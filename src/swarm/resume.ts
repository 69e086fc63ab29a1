/** Partial downloads a previous run left in `<dataDir>/downloads/`, to resume at start-up (paused ones stay paused). */
import { access, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { parseCid } from '../library/content-id.ts'

/** Present in a download's directory while the user has it paused. */
export const PAUSED_MARKER = 'paused'

export async function listStoredDownloads(dataDir: string): Promise<Array<{ cid: string; paused: boolean }>> {
  let names: string[]
  try {
    names = await readdir(join(dataDir, 'downloads'))
  } catch {
    return []
  }
  const out: Array<{ cid: string; paused: boolean }> = []
  for (const name of names) {
    try {
      parseCid(name)
    } catch {
      continue
    }
    const paused = await access(join(dataDir, 'downloads', name, PAUSED_MARKER)).then(
      () => true,
      () => false,
    )
    out.push({ cid: name, paused })
  }
  return out
}
