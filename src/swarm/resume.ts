/** Partial downloads a previous run left in `<dataDir>/downloads/`, to resume at start-up. */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { parseCid } from '../library/content-id.ts'

export async function listStoredDownloads(dataDir: string): Promise<Array<{ cid: string }>> {
  let names: string[]
  try {
    names = await readdir(join(dataDir, 'downloads'))
  } catch {
    return []
  }
  const out: Array<{ cid: string }> = []
  for (const name of names) {
    try {
      parseCid(name)
      out.push({ cid: name })
    } catch {}
  }
  return out
}
