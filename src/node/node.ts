/**
 * A Tutti node: wires the components (identity, libp2p, library, peer table,
 * local API) and owns their one start/stop lifecycle. No logic lives here
 * beyond the order things start in and stop in.
 */
import { mkdir } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { createApiServer, loadOrCreateApiToken } from '../api/index.ts'
import { createDirectory } from '../directory/index.ts'
import { ensureDemoLibrary } from '../library/demo/generate.ts'
import { createLibrary } from '../library/index.ts'
import type { Library, ScanProgress } from '../library/types.ts'
import { loadOrCreateIdentity } from '../net/identity.ts'
import { createTuttiLibp2p, type TuttiLibp2p } from '../net/libp2p.ts'
import { PeerTable } from '../net/peer-table.ts'
import { keepRelayReservation } from '../net/relay-reservations.ts'
import { createPartyService, type PartyService } from '../party/service.ts'
import { createPartySongLoader } from '../party/song-loader.ts'
import { speakerCredential } from '../party/speaker-token.ts'
import { createHeadlessPlayer, decodeAudioFile } from '../playback/index.ts'
import { createPeerCache, createSearch } from '../search/index.ts'
import { mayShare, nodeShareSettings, shareScopeCheck } from '../search/share.ts'
import { type Clock, monotonicClock } from '../shared/clock.ts'
import { TypedEmitter } from '../shared/events.ts'
import { createSwarm, DEFAULT_MAX_PEERS, DEFAULT_MAX_REQUESTS } from '../swarm/index.ts'
import type { NodeConfig } from './config.ts'
import { claimDataDir, removeRuntimeInfo, writeRuntimeInfo } from './runtime-file.ts'

export const VERSION = '0.1.0'

export interface StartedNode {
  peerId: string
  listenAddrs: string[]
  webUrl: string
  apiUrl: string
  songs: number
  /** The start-up scan: files hashed (unchanged files are not) and how long it took. */
  scan?: { hashedFiles: number; ms: number; rejected: number }
  demo: boolean
  libraries: string[]
}

export interface NodeHooks {
  onScanProgress?: (progress: ScanProgress) => void
  onNotice?: (message: string) => void
  clock?: Clock
}

export interface TuttiNode {
  start(): Promise<StartedNode>
  stop(): Promise<void>
  /** Resolves once the node has stopped (by `stop()` or a fatal error). */
  readonly stopped: Promise<void>
  readonly libp2p: TuttiLibp2p | undefined
  readonly library: Library | undefined
}

export function createTuttiNode(config: NodeConfig, hooks: NodeHooks = {}): TuttiNode {
  const clock = hooks.clock ?? monotonicClock
  const startedAt = clock.now()
  const events = new TypedEmitter<Record<string, unknown>>()
  const stopped = Promise.withResolvers<void>()
  const teardown: Array<() => Promise<void> | void> = []
  let libp2p: TuttiLibp2p | undefined
  let library: Library | undefined
  let stopping: Promise<void> | undefined

  async function start(): Promise<StartedNode> {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
    await claimDataDir(config.dataDir)
    teardown.push(() => removeRuntimeInfo(config.dataDir))

    const demo = config.libraries.length === 0
    const folders = demo ? [join(config.dataDir, 'demo-library')] : config.libraries
    if (demo) {
      hooks.onNotice?.(`No --library given: using the demo library in ${folders[0]}`)
      await ensureDemoLibrary(folders[0])
    }

    const privateKey = await loadOrCreateIdentity(config.dataDir)
    libp2p = await createTuttiLibp2p({
      privateKey,
      listen: config.listen.length > 0 ? config.listen : undefined,
      bootstrap: config.bootstrap,
      mdns: config.mdns,
      relayServer: config.relayServer,
      relayClient: config.relayClient,
      announce: config.announce,
    })
    const node = libp2p
    teardown.push(() => node.stop())
    if (config.relayClient) {
      const reservations = keepRelayReservation(node)
      reservations.start()
      teardown.push(() => reservations.stop())
    }

    const peers = new PeerTable({}, { libp2p: node, clock })
    peers.start()
    teardown.push(() => peers.stop())
    peers.on('peer:connected', (p) => events.emit('peer:connected', p))
    peers.on('peer:disconnected', (p) => events.emit('peer:disconnected', p))

    const lib = createLibrary({ folders, dataDir: config.dataDir, watch: true, clock })
    library = lib
    lib.on('scan:progress', (p) => {
      hooks.onScanProgress?.(p)
      events.emit('scan:progress', p)
    })
    let scan: StartedNode['scan']
    lib.on('scan:done', (done) => {
      scan ??= { hashedFiles: done.hashedFiles, ms: done.ms, rejected: done.rejected }
      events.emit('scan:done', done)
    })
    lib.on('song:added', (s) => events.emit('song:added', s))
    lib.on('song:removed', (s) => events.emit('song:removed', s))
    await lib.start()
    teardown.push(() => lib.stop())

    // One share rule for search, catalog and swarm; party membership is asked of the party service, made later.
    const downloadDir = join(config.dataDir, 'music')
    const shares = nodeShareSettings(folders, downloadDir, config.shares)
    let partyService: PartyService | undefined
    const isPartyMember = (peerId: string): boolean => partyService?.isMember(peerId) === true
    const shareScope = shareScopeCheck(shares, isPartyMember)

    const swarm = createSwarm(
      {
        dataDir: config.dataDir,
        downloadDir,
        uploadRateBytes: config.uploadRateBytes,
        downloadRateBytes: config.downloadRateBytes,
        maxPeers: config.maxPeers,
        maxRequests: config.maxRequests,
      },
      {
        libp2p: node,
        library: lib,
        clock,
        sharing: {
          mayServe: (peerId, path) => mayShare(shares, path, isPartyMember(peerId)),
          announce: (path) => mayShare(shares, path, false),
        },
      },
    )
    await swarm.start()
    teardown.push(() => swarm.stop())

    // Peers remembered across restarts: rejoin even when every bootstrap node is gone.
    const peerCache = createPeerCache({ dataDir: config.dataDir }, { libp2p: node, clock })
    await peerCache.start()
    teardown.push(() => peerCache.stop())

    const search = createSearch(
      {},
      { libp2p: node, library: lib, clock, load: () => swarm.load(), rtt: (id) => peers.rtt(id), shareScope },
    )
    await search.start()
    teardown.push(() => search.stop())

    const directory = createDirectory({}, { libp2p: node, clock })
    await directory.start()
    teardown.push(() => directory.stop())

    const party = createPartyService(
      { dataDir: config.dataDir, displayName: config.displayName ?? hostname() },
      { libp2p: node, clock, privateKey, library: lib, swarm, directory },
    )
    partyService = party
    await party.start()
    teardown.push(() => party.stop())
    party.on('party:update', (status) => events.emit('party:update', status))
    party.on('party:closed', (closed) => events.emit('party:closed', closed))
    party.on('party:pending', (pending) => events.emit('party:pending', pending))
    party.on('party:host-changed', (change) => {
      events.emit('party:host-changed', change)
      hooks.onNotice?.(`party host is now ${change.leader} (term ${change.term})`)
    })
    swarm.on('download:progress', (d) => events.emit('download:progress', d))
    swarm.on('download:done', (d) => events.emit('download:done', d))
    swarm.on('download:failed', (d) => events.emit('download:failed', d))

    // The node's own speaker: follows the party timeline; `--output none` still reports its playhead.
    const player = createHeadlessPlayer(
      { output: config.output },
      {
        clock,
        toLocal: (partyMs) => party.localTimeOf(partyMs),
        toParty: (localMs) => party.partyTimeOf(localMs),
        loadSong: createPartySongLoader({
          library: lib,
          swarm,
          providers: () => party.songProviders(),
          decode: decodeAudioFile,
        }),
      },
    )
    await player.start()
    teardown.push(() => player.stop())
    party.attachPlayer(player)

    const token = await loadOrCreateApiToken(config.dataDir)
    const songSource = swarm.songSource()
    const api = createApiServer({ port: config.apiPort, token, exposeLan: config.exposeLan }, {
      library: lib,
      songs: songSource,
      node: {
        status: () => ({
          peerId: node.peerId.toString(),
          addresses: node.getMultiaddrs().map(String),
          version: VERSION,
          uptimeSec: Math.round((clock.now() - startedAt) / 1000),
          connections: node.getConnections().length,
          songs: lib.list().length,
          rejected: lib.rejected().length,
          libraries: folders,
          shares: shares.folders,
          limits: {
            uploadRateBytes: config.uploadRateBytes,
            downloadRateBytes: config.downloadRateBytes,
            maxPeers: config.maxPeers ?? DEFAULT_MAX_PEERS,
            maxRequests: config.maxRequests ?? DEFAULT_MAX_REQUESTS,
          },
        }),
        peers: () => peers.list(),
      },
      events,
      credentials: [
        // Speaker tokens: the speaker routes and the bytes of the party's current and upcoming songs.
        speakerCredential(party),
      ],
      swarm,
      search,
      directory,
      party,
    } as Parameters<typeof createApiServer>[1])
    const { url } = await api.start()
    teardown.push(() => api.stop())

    const webUrl = `${url}/#token=${token}`
    await writeRuntimeInfo(config.dataDir, {
      pid: process.pid,
      apiUrl: url,
      peerId: node.peerId.toString(),
      startedAt: new Date().toISOString(),
    })
    return {
      peerId: node.peerId.toString(),
      listenAddrs: node.getMultiaddrs().map(String),
      webUrl,
      apiUrl: url,
      songs: lib.list().length,
      scan,
      demo,
      libraries: folders,
    }
  }

  async function stop(): Promise<void> {
    stopping ??= (async () => {
      // Stop in reverse start order; one component failing to stop must not keep the others running.
      for (const step of teardown.reverse()) {
        try {
          await step()
        } catch (err) {
          hooks.onNotice?.(`error while stopping: ${(err as Error).message}`)
        }
      }
      stopped.resolve()
    })()
    return stopping
  }

  return {
    start: async () => {
      try {
        return await start()
      } catch (err) {
        await stop()
        throw err
      }
    },
    stop,
    stopped: stopped.promise,
    get libp2p() {
      return libp2p
    },
    get library() {
      return library
    },
  }
}
