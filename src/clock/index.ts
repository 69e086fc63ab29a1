/** Party clock: the pure estimator, the `/tutti/clock/1.0.0` protocol and the client that follows a reference. */
export {
  type ClockSync,
  type ClockSyncComponents,
  type ClockSyncInit,
  createClockSync,
} from './clock-sync.ts'
export { ClockExchangeError } from './errors.ts'
export {
  type ClockEstimate,
  ClockEstimator,
  type ClockEstimatorOptions,
  type ClockSample,
} from './estimator.ts'
export { CLOCK_PROTOCOL, handleClockProtocol, serveClockStream } from './protocol.ts'
