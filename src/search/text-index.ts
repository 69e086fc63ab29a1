/**
 * A small full-text index over song metadata (title, artist, album). Pure:
 * no I/O, no clock. Matching is case- and accent-insensitive (NFKD, marks
 * dropped), every query term may match a word by prefix, and longer terms
 * tolerate typos (bounded edit distance: 0 for ≤3 chars, 1 for 4–7, 2 for ≥8).
 * All query terms must match somewhere (AND); results are ranked by match
 * quality weighted by field.
 */

export type IndexedField = 'title' | 'artist' | 'album'
export const INDEXED_FIELDS: readonly IndexedField[] = ['title', 'artist', 'album']

const FIELD_WEIGHT: Record<IndexedField, number> = { title: 3, artist: 2, album: 1.5 }
/** Match quality: an exact word beats a prefix beats a typo. */
const EXACT = 1
const PREFIX = 0.75
const TYPO = [1, 0.55, 0.35]

export interface IndexQuery {
  /** Free text: every term must match title, artist or album. */
  text?: string
  /** Terms that must match within that field. */
  title?: string
  artist?: string
  album?: string
}

export interface IndexHit {
  id: string
  score: number
}

/** Lower-case, accents stripped (NFKD then drop combining marks), split on anything not a letter or digit. */
export function tokenize(text: string): string[] {
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t.length > 0)
}

/** How many typos a query term of this length may carry. */
export function allowedTypos(term: string): number {
  if (term.length <= 3) return 0
  if (term.length <= 7) return 1
  return 2
}

/**
 * Edit distance with adjacent transpositions (optimal string alignment: "beatels" is one
 * typo from "beatles"), or `max + 1` as soon as it must exceed `max` (early exit per row).
 */
export function boundedEditDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1
  let before = new Array<number>(b.length + 1).fill(0)
  let prev = new Array<number>(b.length + 1)
  let curr = new Array<number>(b.length + 1)
  for (let j = 0; j <= b.length; j++) prev[j] = j
  for (let i = 1; i <= a.length; i++) {
    curr[0] = i
    let rowMin = curr[0]
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1
      let d = Math.min(prev[j] + 1, curr[j - 1] + 1, prev[j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2] + 1)
      curr[j] = d
      if (d < rowMin) rowMin = d
    }
    if (rowMin > max) return max + 1
    ;[before, prev, curr] = [prev, curr, before]
  }
  return prev[b.length] <= max ? prev[b.length] : max + 1
}

interface Posting {
  /** Which fields of the document hold this word. */
  fields: Set<IndexedField>
}

export class TextIndex {
  /** word → document id → fields */
  readonly #postings = new Map<string, Map<string, Posting>>()
  /** document id → its words, so remove() is exact */
  readonly #docs = new Map<string, Map<IndexedField, string[]>>()
  /** All distinct words, sorted, for prefix range scans; rebuilt lazily. */
  #sortedWords: string[] | undefined

  get size(): number {
    return this.#docs.size
  }

  add(id: string, fields: Record<IndexedField, string>): void {
    if (this.#docs.has(id)) this.remove(id)
    const words = new Map<IndexedField, string[]>()
    for (const field of INDEXED_FIELDS) {
      const tokens = tokenize(fields[field] ?? '')
      words.set(field, tokens)
      for (const token of tokens) {
        let byDoc = this.#postings.get(token)
        if (byDoc === undefined) {
          byDoc = new Map()
          this.#postings.set(token, byDoc)
          this.#sortedWords = undefined
        }
        let posting = byDoc.get(id)
        if (posting === undefined) {
          posting = { fields: new Set() }
          byDoc.set(id, posting)
        }
        posting.fields.add(field)
      }
    }
    this.#docs.set(id, words)
  }

  remove(id: string): void {
    const words = this.#docs.get(id)
    if (words === undefined) return
    for (const tokens of words.values()) {
      for (const token of tokens) {
        const byDoc = this.#postings.get(token)
        byDoc?.delete(id)
        if (byDoc !== undefined && byDoc.size === 0) {
          this.#postings.delete(token)
          this.#sortedWords = undefined
        }
      }
    }
    this.#docs.delete(id)
  }

  /** True when the query has at least one term to match. */
  static hasTerms(query: IndexQuery): boolean {
    return [query.text, query.title, query.artist, query.album].some(
      (t) => t !== undefined && tokenize(t).length > 0,
    )
  }

  search(query: IndexQuery, limit = 50): IndexHit[] {
    // Each clause: a term and the fields it may match in.
    const clauses: Array<{ term: string; fields: readonly IndexedField[] }> = []
    for (const term of tokenize(query.text ?? '')) clauses.push({ term, fields: INDEXED_FIELDS })
    for (const field of INDEXED_FIELDS) {
      for (const term of tokenize(query[field] ?? '')) clauses.push({ term, fields: [field] })
    }
    if (clauses.length === 0) return []
    let scores: Map<string, number> | undefined
    for (const clause of clauses) {
      const clauseScores = this.#scoreTerm(clause.term, clause.fields)
      if (scores === undefined) {
        scores = clauseScores
      } else {
        const next = new Map<string, number>()
        for (const [id, score] of scores) {
          const add = clauseScores.get(id)
          if (add !== undefined) next.set(id, score + add)
        }
        scores = next
      }
      if (scores.size === 0) return []
    }
    return [...(scores ?? new Map<string, number>())]
      .map(([id, score]) => ({ id, score: Math.round(score * 1000) / 1000 }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, limit)
  }

  /** Best match quality × field weight of one query term, per document. */
  #scoreTerm(term: string, fields: readonly IndexedField[]): Map<string, number> {
    const best = new Map<string, number>()
    const credit = (word: string, quality: number) => {
      for (const [id, posting] of this.#postings.get(word) ?? []) {
        let weight = 0
        for (const field of posting.fields)
          if (fields.includes(field)) weight = Math.max(weight, FIELD_WEIGHT[field])
        if (weight === 0) continue
        const score = quality * weight
        if (score > (best.get(id) ?? 0)) best.set(id, score)
      }
    }
    for (const word of this.#wordsWithPrefix(term)) {
      // Closer-length prefixes rank a little higher: "beat" prefers "beats" over "beatitudes".
      credit(word, word === term ? EXACT : PREFIX * (term.length / word.length) ** 0.25)
    }
    const typos = allowedTypos(term)
    if (typos > 0) {
      for (const word of this.#postings.keys()) {
        if (word.startsWith(term)) continue
        const distance = boundedEditDistance(term, word, typos)
        if (distance <= typos) credit(word, TYPO[distance] ?? 0)
        // A typo inside a prefix: "beetle" for "beatles" is distance 2 anyway; "beatl" for "beetles..." handled here.
        else if (word.length > term.length) {
          const head = word.slice(0, term.length)
          const d = boundedEditDistance(term, head, typos)
          if (d <= typos) credit(word, (TYPO[d] ?? 0) * PREFIX)
        }
      }
    }
    return best
  }

  #wordsWithPrefix(prefix: string): string[] {
    if (this.#sortedWords === undefined) this.#sortedWords = [...this.#postings.keys()].sort()
    const words = this.#sortedWords
    let lo = 0
    let hi = words.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (words[mid] < prefix) lo = mid + 1
      else hi = mid
    }
    const out: string[] = []
    for (let i = lo; i < words.length && words[i].startsWith(prefix); i++) out.push(words[i])
    return out
  }
}
