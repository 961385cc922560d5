/**
 * Typed errors of the driver. Each names what failed: the request and its
 * status, the parameter and the constraint, the state an operation needed.
 */

import { requestCodeName, statusName } from '../snd/protocol.ts';

export class VirtioSndError extends Error {
  override name = 'VirtioSndError';
}

/** The device answered a control request with a status other than OK. */
export class CtlRequestError extends VirtioSndError {
  override name = 'CtlRequestError';
  constructor(
    readonly code: number,
    readonly status: number,
    detail = '',
  ) {
    super(`${requestCodeName(code)} failed: ${statusName(status)}${detail ? ` (${detail})` : ''}`);
  }
}

/** The device did not answer a control request in time. */
export class CtlTimeoutError extends VirtioSndError {
  override name = 'CtlTimeoutError';
  constructor(
    readonly code: number,
    readonly timeoutMs: number,
  ) {
    super(`${requestCodeName(code)} timed out after ${timeoutMs} ms`);
  }
}

/** A PCM parameter does not satisfy a constraint; `constraint` names it. */
export class PcmParamError extends VirtioSndError {
  override name = 'PcmParamError';
  constructor(
    readonly param: string,
    readonly constraint: string,
  ) {
    super(`${param}: ${constraint}`);
  }
}

/** An operation was called in a substream state that does not allow it. */
export class PcmStateError extends VirtioSndError {
  override name = 'PcmStateError';
  constructor(
    readonly operation: string,
    readonly state: string,
  ) {
    super(`${operation}() is not allowed in state ${state}`);
  }
}

/** The substream over- or underran; call recover(). */
export class XrunError extends VirtioSndError {
  override name = 'XrunError';
  constructor(readonly streamId: number) {
    super(`stream ${streamId}: xrun (underrun or overrun); call recover()`);
  }
}

/** The device broke the protocol (bad used ring, impossible config...): the card is unusable until reset. */
export class DeviceError extends VirtioSndError {
  override name = 'DeviceError';
}

/** A bad argument to the API; names the argument and what was wrong. */
export class ArgumentError extends VirtioSndError {
  override name = 'ArgumentError';
}
