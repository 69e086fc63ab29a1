/** Small tmpfs mounts as full disks for tests (root and a mount-capable kernel/container; else a skip reason). */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Why a small tmpfs cannot be mounted here (not root, no mount, a container without the capability), if so. */
export function tmpfsUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs as a full disk'
  const probe = mkdtempSync(join(tmpdir(), 'tutti-mount-probe-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' })
    execFileSync('umount', [probe], { stdio: 'ignore' })
    return undefined
  } catch (err) {
    return `cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]})`
  } finally {
    rmSync(probe, { recursive: true, force: true })
  }
}

/** A tmpfs of `size` (e.g. '1m') mounted at `dir` (created if missing); returns its unmount. */
export function mountTinyDisk(dir: string, size: string): { resize(size: string): void; unmount(): void } {
  mkdirSync(dir, { recursive: true })
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir])
  return {
    resize: (to) => execFileSync('mount', ['-o', `remount,size=${to}`, dir]),
    unmount: () => execFileSync('umount', ['-l', dir]),
  }
}

/** Writes filler into `dir` until its disk refuses (ENOSPC); returns the filler's path (remove it to make room). */
export function fillDisk(dir: string): string {
  const path = join(dir, 'filler')
  const page = Buffer.alloc(4096, 1)
  for (let written = 0; written < 256 * 1024 * 1024; written += page.byteLength) {
    try {
      writeFileSync(path, page, { flag: 'a' })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return path
      throw err
    }
  }
  throw new Error(`${dir} never filled`)
}
