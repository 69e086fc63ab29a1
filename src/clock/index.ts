/** Party clock: the pure estimator and the `/tutti/clock/1.0.0` protocol (server: protocol.ts, client: exchange.ts). */
export { ClockExchangeError } from './errors.ts'
export {
  type ClockEstimate,
  ClockEstimator,
  type ClockEstimatorOptions,
  type ClockSample,
} from './estimator.ts'
export { type ClockExchangeInit, runClockExchanges } from './exchange.ts'
export { CLOCK_PROTOCOL, handleClockProtocol, serveClockStream } from './protocol.ts'
