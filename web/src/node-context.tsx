/**
 * The node as the UI sees it: its latest status and one shared event stream.
 * Pages read `useNode()` and subscribe with `useNodeEvent(type, handler)`.
 */
import { createContext, type ReactNode, useContext, useEffect, useRef, useState } from 'react'
import { type ApiEventFrame, api, type ConnectionState, followEvents, type NodeStatus } from './api.ts'

type FrameOf<T extends ApiEventFrame['type']> = Extract<ApiEventFrame, { type: T }>
type Handler = (frame: ApiEventFrame) => void

interface NodeContextValue {
  status: NodeStatus | undefined
  connection: ConnectionState
  subscribe(handler: Handler): () => void
}

const NodeContext = createContext<NodeContextValue | undefined>(undefined)

export function NodeProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<NodeStatus>()
  const [connection, setConnection] = useState<ConnectionState>('connecting')
  const handlers = useRef(new Set<Handler>())

  useEffect(() => {
    const controller = new AbortController()
    const loadStatus = () => api.status(controller.signal).then(setStatus, () => undefined)
    void loadStatus()
    // Counts change with songs and peers: refresh the status soon after such events, once per burst.
    let refresh: ReturnType<typeof setTimeout> | undefined
    const stop = followEvents((frame) => {
      if (frame.type === 'status') setStatus(frame.payload)
      else if (frame.type !== 'scan:progress' && refresh === undefined) {
        refresh = setTimeout(() => {
          refresh = undefined
          void loadStatus()
        }, 300)
      }
      for (const handler of handlers.current) handler(frame)
    }, setConnection)
    return () => {
      controller.abort()
      if (refresh !== undefined) clearTimeout(refresh)
      stop()
    }
  }, [])

  const value: NodeContextValue = {
    status,
    connection,
    subscribe: (handler) => {
      handlers.current.add(handler)
      return () => handlers.current.delete(handler)
    },
  }
  return <NodeContext.Provider value={value}>{children}</NodeContext.Provider>
}

export function useNode(): NodeContextValue {
  const value = useContext(NodeContext)
  if (value === undefined) throw new Error('useNode() outside <NodeProvider>')
  return value
}

/** Calls `handler` for every event of the given types (the latest handler, without resubscribing). */
export function useNodeEvent<T extends ApiEventFrame['type']>(
  types: T | T[],
  handler: (frame: FrameOf<T>) => void,
): void {
  const { subscribe } = useNode()
  const latest = useRef(handler)
  latest.current = handler
  const key = Array.isArray(types) ? types.join(',') : types
  useEffect(() => {
    const wanted = new Set(key.split(','))
    return subscribe((frame) => {
      if (wanted.has(frame.type)) latest.current(frame as FrameOf<T>)
    })
  }, [key, subscribe])
}
