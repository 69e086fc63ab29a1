/** Have-bitfields: one bit per piece, most significant bit first (BitTorrent's layout). Pure. */

export function createBitfield(pieces: number): Uint8Array {
  return new Uint8Array(Math.ceil(pieces / 8))
}

export function hasPiece(bits: Uint8Array, index: number): boolean {
  const byte = bits[index >> 3]
  return byte !== undefined && (byte & (0x80 >> (index & 7))) !== 0
}

export function setPiece(bits: Uint8Array, index: number): void {
  bits[index >> 3] |= 0x80 >> (index & 7)
}

export function countPieces(bits: Uint8Array, pieces: number): number {
  let n = 0
  for (let i = 0; i < pieces; i++) if (hasPiece(bits, i)) n++
  return n
}

export function fullBitfield(pieces: number): Uint8Array {
  const bits = createBitfield(pieces)
  for (let i = 0; i < pieces; i++) setPiece(bits, i)
  return bits
}

/** A peer's bitfield must be exactly the right length and have no bits set past the last piece. */
export function isValidBitfield(bits: Uint8Array, pieces: number): boolean {
  if (bits.byteLength !== Math.ceil(pieces / 8)) return false
  for (let i = pieces; i < bits.byteLength * 8; i++) if (hasPiece(bits, i)) return false
  return true
}
