/**
 * What a node needs to rejoin its party after a restart, beside the Raft
 * state in `<data>/party-<id>`: the invite (the secret the members'
 * protocol asks for) and where the other members listened when we last
 * looked (a restarted node listens on a new port, so they cannot dial us:
 * we dial them). Written at `<data>/party-<id>.resume.json`, atomically.
 */
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'

const resumeSchema = z.object({
  link: z.string().min(1).max(4096),
  public: z.boolean(),
  peers: z
    .array(z.object({ id: z.string().min(1).max(128), addrs: z.array(z.string().max(512)).max(16) }))
    .max(256),
})

export type ResumeRecord = z.infer<typeof resumeSchema>

const FILE = /^party-([A-Za-z0-9-]{1,64})\.resume\.json$/

export function resumePath(dataDir: string, partyId: string): string {
  return join(dataDir, `party-${partyId}.resume.json`)
}

export async function saveResume(dataDir: string, partyId: string, record: ResumeRecord): Promise<void> {
  const path = resumePath(dataDir, partyId)
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  await writeFile(tmp, JSON.stringify(record))
  await rename(tmp, path)
}

export async function forgetResume(dataDir: string, partyId: string): Promise<void> {
  await rm(resumePath(dataDir, partyId), { force: true })
}

/**
 * The party this node was in when it stopped (the newest record whose Raft
 * directory still exists), or undefined. Unreadable records are skipped.
 */
export async function findResumable(
  dataDir: string,
): Promise<{ partyId: string; record: ResumeRecord } | undefined> {
  const names = await readdir(dataDir).catch(() => [] as string[])
  let best: { partyId: string; record: ResumeRecord; mtimeMs: number } | undefined
  for (const name of names) {
    const partyId = FILE.exec(name)?.[1]
    if (partyId === undefined) continue
    try {
      const raftDir = await stat(join(dataDir, `party-${partyId}`))
      if (!raftDir.isDirectory()) continue
      const path = join(dataDir, name)
      const { mtimeMs } = await stat(path)
      const record = resumeSchema.parse(JSON.parse(await readFile(path, 'utf8')))
      if (best === undefined || mtimeMs > best.mtimeMs) best = { partyId, record, mtimeMs }
    } catch {}
  }
  return best === undefined ? undefined : { partyId: best.partyId, record: best.record }
}
