/** Stands in for a page whose module has not added it yet. */
import type { PageSlot } from '../pages.ts'

export function PlaceholderPage({ slot }: { slot: PageSlot }) {
  return (
    <section className="page">
      <header className="page-header">
        <h1>{slot.title}</h1>
      </header>
      <div className="empty-state">
        <p>{slot.blurb}</p>
        <p className="muted">Not available on this node yet.</p>
      </div>
    </section>
  )
}
