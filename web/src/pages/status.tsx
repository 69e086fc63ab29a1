/** Status: who this node is, where it listens, what it shares, and the files its scan refused. */
import { useEffect, useState } from 'react'
import { api, type RejectedFile } from '../api.ts'
import { formatUptime } from '../format.ts'
import { useNode, useNodeEvent } from '../node-context.tsx'
import type { PageProps } from '../pages.ts'

export function StatusPage(_props: PageProps) {
  const { status, connection } = useNode()
  const [rejected, setRejected] = useState<RejectedFile[]>()
  const [copied, setCopied] = useState(false)
  const [generation, setGeneration] = useState(0)

  // biome-ignore lint/correctness/useExhaustiveDependencies: `generation` is bumped to refetch
  useEffect(() => {
    const controller = new AbortController()
    api.rejected(controller.signal).then(
      (body) => setRejected(body.rejected),
      () => undefined,
    )
    return () => controller.abort()
  }, [generation])
  useNodeEvent('scan:done', () => setGeneration((g) => g + 1))

  if (status === undefined) {
    return (
      <section className="page">
        <header className="page-header">
          <h1>Status</h1>
        </header>
        <p className="muted">{connection === 'offline' ? 'The node is not reachable.' : 'Loading…'}</p>
      </section>
    )
  }

  const copyPeerId = () => {
    void navigator.clipboard?.writeText(status.peerId).then(() => {
      setCopied(true)
      setTimeout(() => setCopied(false), 1500)
    })
  }

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Status</h1>
          <p className="muted">Tutti {status.version}</p>
        </div>
      </header>

      <div className="cards">
        <Stat label="Songs" value={status.songs} />
        <Stat label="Connections" value={status.connections} />
        <Stat label="Rejected files" value={status.rejected} />
        <Stat label="Uptime" value={formatUptime(status.uptimeSec)} />
      </div>

      <dl className="details">
        <dt>Peer ID</dt>
        <dd>
          <code className="mono break">{status.peerId}</code>
          <button type="button" className="button small" onClick={copyPeerId}>
            {copied ? 'Copied' : 'Copy'}
          </button>
        </dd>
        <dt>Listening on</dt>
        <dd>
          {status.addresses.length === 0 ? (
            <span className="muted">no addresses</span>
          ) : (
            <ul className="plain mono">
              {status.addresses.map((a) => (
                <li key={a}>{a}</li>
              ))}
            </ul>
          )}
        </dd>
        <dt>Music folders</dt>
        <dd>
          <ul className="plain mono">
            {status.libraries.map((folder) => (
              <li key={folder}>{folder}</li>
            ))}
          </ul>
        </dd>
      </dl>

      {rejected !== undefined && rejected.length > 0 && (
        <>
          <h2>Files the scan could not use</h2>
          <table className="table">
            <thead>
              <tr>
                <th>File</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {rejected.map((file) => (
                <tr key={file.path}>
                  <td className="mono break">{file.path}</td>
                  <td>{file.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  )
}

function Stat({ label, value }: { label: string; value: string | number }) {
  return (
    <div className="card">
      <div className="card-value">{value}</div>
      <div className="card-label">{label}</div>
    </div>
  )
}
