/**
 * @libp2p/tcp with each send leaving in one system call.
 *
 * A connection's `sendData` gets a list of buffers — for one noise message
 * the 2-byte length, the ciphertext and its tag — and @libp2p/tcp writes them
 * with one `socket.write` each. With Nagle off every write is its own syscall
 * and TCP segment: in bench:swarm (N = 9) 90 % of a node's ~6,000 writes were
 * under 100 bytes (over 40 % of all writes were the 2-byte length prefix
 * alone), and every segment is a read event and a decode attempt on the far
 * side. Corking the socket around the loop hands the whole list to one
 * `writev`.
 */
import type { Socket } from 'node:net'
import type { MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface'
import { type TCPOptions, tcp } from '@libp2p/tcp'

type TcpComponents = Parameters<ReturnType<typeof tcp>>[0]

interface SendingConnection {
  socket?: Socket
  sendData(data: unknown): unknown
}

/** Wrap `maConn.sendData` so the socket is corked while it writes (a no-op for non-socket connections). */
export function corkSends(maConn: MultiaddrConnection): MultiaddrConnection {
  const conn = maConn as unknown as SendingConnection
  const socket = conn.socket
  if (socket === undefined || typeof socket.cork !== 'function' || typeof conn.sendData !== 'function')
    return maConn
  const sendData = conn.sendData.bind(conn)
  conn.sendData = (data: unknown) => {
    socket.cork()
    try {
      return sendData(data)
    } finally {
      socket.uncork()
    }
  }
  return maConn
}

function corkingUpgrader(upgrader: Upgrader): Upgrader {
  return new Proxy(upgrader, {
    get(target, key, receiver) {
      if (key === 'upgradeOutbound' || key === 'upgradeInbound') {
        const upgrade = Reflect.get(target, key, receiver) as (c: MultiaddrConnection, o: unknown) => unknown
        return (maConn: MultiaddrConnection, opts: unknown) => upgrade.call(target, corkSends(maConn), opts)
      }
      const value = Reflect.get(target, key, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

/** Drop-in for `tcp(init)` in a libp2p `transports` list. */
export function corkedTcp(init?: TCPOptions): (components: TcpComponents) => Transport {
  const factory = tcp(init)
  return (components) => {
    const transport = factory(components)
    const dial = transport.dial.bind(transport)
    const createListener = transport.createListener.bind(transport)
    transport.dial = (ma, options) => dial(ma, { ...options, upgrader: corkingUpgrader(options.upgrader) })
    transport.createListener = (options) =>
      createListener({ ...options, upgrader: corkingUpgrader(options.upgrader) })
    return transport
  }
}
