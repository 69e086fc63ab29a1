/** `tutti start`: run a node until Ctrl-C (or SIGTERM), then shut down cleanly. */
import type { NodeConfig } from '../../node/config.ts'
import { createTuttiNode } from '../../node/node.ts'
import { createProgressBar } from '../progress-bar.ts'

export async function startCommand(config: NodeConfig): Promise<void> {
  const bar = createProgressBar(process.stderr)
  const node = createTuttiNode(config, {
    onScanProgress: (p) => bar.update(p.filesDone, p.filesTotal, 'scanning library'),
    onNotice: (message) => console.log(message),
  })
  let stopping: Promise<void> | undefined
  const stop = (signal: string) => {
    if (stopping !== undefined) {
      console.error(`\n${signal} again: exiting without a clean shutdown`)
      process.exit(130)
    }
    console.log(`\n${signal}: shutting down…`)
    stopping = node.stop()
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))

  const info = await node.start()
  bar.done()
  console.log(`Tutti node ${info.peerId}`)
  for (const addr of info.listenAddrs) console.log(`  listening on ${addr}`)
  console.log(
    `Library: ${info.songs} songs${info.demo ? ' (generated demo library)' : ''} from ${info.libraries.join(', ')}`,
  )
  if (info.scan !== undefined) {
    const refused =
      info.scan.rejected > 0 ? `; ${info.scan.rejected} files refused (see \`tutti library --rejected\`)` : ''
    console.log(`  scan hashed ${info.scan.hashedFiles} files in ${Math.round(info.scan.ms)} ms${refused}`)
  }
  console.log(`Web UI: ${info.webUrl}`)
  console.log('Press Ctrl-C to stop.')
  await node.stopped
  await stopping
  console.log('stopped')
}
