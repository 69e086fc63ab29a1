/**
 * GET /api/events: the one typed event stream the UI follows (a WebSocket of
 * JSON `ApiEventFrame`s). It opens with a `status` frame, repeats `status`
 * every few seconds, and forwards the node's bus events listed below.
 */

import { log } from '../../shared/logger.ts'
import { webSocketRoute } from '../route.ts'
import type { ApiEventFrame, ApiEventMap } from '../types.ts'

/** Bus events forwarded to the UI. A module that publishes more adds its names here (and to ApiEventMap in types.ts). */
export const STREAMED_EVENT_TYPES: ReadonlyArray<keyof ApiEventMap> = [
  'song:added',
  'song:removed',
  'scan:progress',
  'scan:done',
  'peer:connected',
  'peer:disconnected',
  'party:update',
  'party:closed',
  'party:pending',
  'party:host-changed',
  'download:progress',
  'download:done',
  'download:failed',
]

const logger = log('api:events')

export const STATUS_INTERVAL_MS = 5_000
/** A client that stops reading is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024

export const eventRoutes = [
  webSocketRoute({
    method: 'GET',
    url: '/api/events',
    handler: (socket, { components, signal }) => {
      const send = (frame: ApiEventFrame) => {
        if (socket.readyState !== socket.OPEN) return
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          socket.close(1013, 'event stream client too slow')
          return
        }
        let text: string
        try {
          text = JSON.stringify(frame)
        } catch (err) {
          // Called from the bus and a timer, where a throw would surface as an uncaught exception.
          logger('cannot encode %s event: %s', frame.type, (err as Error).message)
          return
        }
        socket.send(text, (err) => {
          if (err !== undefined && err !== null) logger('event stream send failed: %s', err.message)
        })
      }
      const sendStatus = () => {
        try {
          send({ type: 'status', payload: components.node.status() })
        } catch (err) {
          // From a timer: a throw here would be an uncaught exception.
          logger('status for the event stream failed: %s', (err as Error).message)
        }
      }
      const unsubscribe = STREAMED_EVENT_TYPES.map((type) =>
        components.events.on(type, ((payload: ApiEventMap[typeof type]) =>
          send({ type, payload } as ApiEventFrame)) as (payload: unknown) => void),
      )
      const timer = setInterval(sendStatus, STATUS_INTERVAL_MS)
      timer.unref()
      const close = () => {
        clearInterval(timer)
        for (const off of unsubscribe) off()
      }
      socket.on('close', close)
      signal.addEventListener('abort', () => socket.close(1001, 'node stopping'), { once: true })
      sendStatus()
    },
  }),
]
