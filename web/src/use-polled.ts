import { useCallback, useEffect, useState } from 'react'

/**
 * Fetch a resource now and every `intervalMs` while the page is open, for
 * figures that change without events (RTTs, download progress). In-flight
 * requests are aborted when the page closes; `fetcher` must be stable (a
 * module-level function or a memoised callback). `setError` lets the page
 * report its own failures (a refused action) in the same banner.
 */
export function usePolled<T>(
  fetcher: (signal?: AbortSignal) => Promise<T>,
  intervalMs: number,
): {
  data: T | undefined
  error: string | undefined
  setError: (e: string | undefined) => void
  reload: () => void
} {
  const [data, setData] = useState<T>()
  const [error, setError] = useState<string>()
  const load = useCallback(
    (signal?: AbortSignal) => {
      fetcher(signal).then(
        (body) => {
          setData(body)
          setError(undefined)
        },
        (err: Error) => {
          if (err.name !== 'AbortError') setError(err.message)
        },
      )
    },
    [fetcher],
  )
  useEffect(() => {
    const controller = new AbortController()
    load(controller.signal)
    const timer = setInterval(() => load(controller.signal), intervalMs)
    return () => {
      clearInterval(timer)
      controller.abort()
    }
  }, [load, intervalMs])
  return { data, error, setError, reload: load }
}
