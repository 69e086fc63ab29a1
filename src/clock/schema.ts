/** Wire schema of `/tutti/clock/1.0.0`: the client sends numbered requests, the reference answers each with its receive and send times. */
import { z } from 'zod'

export const ClockRequest = z
  .object({ seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER) })
  .strict()
export type ClockRequest = z.infer<typeof ClockRequest>

export const ClockResponse = z
  .object({
    seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    /** Reference (party) time the request arrived, ms. */
    t1: z.number().finite(),
    /** Reference (party) time the response left, ms. */
    t2: z.number().finite(),
  })
  .strict()
export type ClockResponse = z.infer<typeof ClockResponse>

/** Both messages are a few dozen bytes of CBOR; anything larger is hostile. */
export const CLOCK_MAX_MESSAGE_BYTES = 128
