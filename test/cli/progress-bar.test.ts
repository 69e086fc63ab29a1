// The CLI progress bar: the pure line renderer, TTY-only drawing, and the final state always shown.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createProgressBar, renderProgressLine } from '../../src/cli/progress-bar.ts'

test('renders a bar proportional to progress, clamped and fitted to the terminal width', () => {
  assert.equal(renderProgressLine(0, 4, 'scan', 80), `[${'.'.repeat(30)}] 0/4 scan`)
  assert.equal(renderProgressLine(2, 4, 'scan', 80), `[${'#'.repeat(15)}${'.'.repeat(15)}] 2/4 scan`)
  assert.equal(
    renderProgressLine(9, 4, '', 80).startsWith(`[${'#'.repeat(30)}] 4/4`),
    true,
    'done is clamped to total',
  )
  assert.equal(
    renderProgressLine(1, 0, '', 80).includes('0/0'),
    true,
    'an empty library does not divide by zero',
  )
  const narrow = renderProgressLine(5, 10, 'a very long label that does not fit', 30)
  assert.ok(narrow.length < 30, `fits in 30 columns: ${JSON.stringify(narrow)}`)
})

test('draws only on a terminal; the final state is drawn even within the redraw interval', () => {
  const written: string[] = []
  const pipe = createProgressBar({ isTTY: false, write: (s: string) => written.push(s) })
  pipe.update(1, 2)
  pipe.done()
  assert.equal(written.length, 0, 'nothing on a pipe or log file')

  const tty = createProgressBar({ isTTY: true, columns: 80, write: (s: string) => written.push(s) })
  tty.update(1, 3, 'x')
  tty.update(2, 3, 'x') // within 50 ms of the first: skipped
  tty.update(3, 3, 'x') // final: always drawn
  assert.equal(written.length, 2)
  assert.match(written[1], /3\/3 x$/)
  tty.done()
  assert.equal(written.at(-1), '\r\x1b[2K', 'done() clears the line')
})
