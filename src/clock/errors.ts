import { TuttiError } from '../shared/errors.ts'

/** The reference answered out of order or not at all; the exchange is retried on a fresh stream. */
export class ClockExchangeError extends TuttiError {
  constructor(message: string) {
    super('CLOCK_EXCHANGE_FAILED', message, 502)
  }
}
