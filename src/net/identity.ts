/**
 * The node's persistent libp2p identity: an Ed25519 key stored (protobuf
 * encoded, mode 0600) in the data directory, so the peer id survives restarts.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { TuttiError } from '../shared/errors.ts'

export const IDENTITY_FILE = 'identity.key'

export class IdentityError extends TuttiError {
  constructor(message: string, options?: ErrorOptions) {
    super('IDENTITY_INVALID', message, 500, options)
  }
}

export async function loadOrCreateIdentity(dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, IDENTITY_FILE)
  let bytes: Buffer | undefined
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (bytes !== undefined) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      // Never silently replace an identity: peers and parties know us by it.
      throw new IdentityError(`identity key ${path} is corrupt; move it away to create a new identity`, {
        cause: err,
      })
    }
  }
  const key = await generateKeyPair('Ed25519')
  const tmp = `${path}.tmp`
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  await rename(tmp, path)
  return key
}
