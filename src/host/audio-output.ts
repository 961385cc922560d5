/**
 * The page's side of the audio output: which state the AudioContext is in
 * ('interrupted' included: Chrome and Safari stop a context for a phone call
 * or another app, and resume() may then reject), and how long audio takes
 * from the renderer to the listener, which the device folds into every TX
 * latency_bytes so the guest's delay() means "until heard".
 */

import { VirtioSoundError } from './errors.ts';

/** An AudioContext's state, with the 'interrupted' state TypeScript's DOM types lack. */
export type AudioState = 'running' | 'suspended' | 'interrupted' | 'closed';

export function audioStateOf(context: BaseAudioContext): AudioState {
  return context.state as AudioState;
}

/** AudioContext.playbackStats (Chrome 140+; not yet in TypeScript's DOM types): measured, updated every second. */
export interface AudioPlaybackStatsLike {
  averageLatency: number;
  minimumLatency: number;
  maximumLatency: number;
  underrunDuration: number;
  underrunEvents: number;
  totalDuration: number;
}

/** The context's playback statistics, where the browser has them. */
export function playbackStatsOf(context: BaseAudioContext): AudioPlaybackStatsLike | null {
  const s = (context as { playbackStats?: AudioPlaybackStatsLike }).playbackStats;
  return s && typeof s.averageLatency === 'number' ? s : null;
}

/**
 * Seconds from the renderer's output to the ear (0 where unknown):
 * baseLatency plus the output's latency, measured (playbackStats'
 * averageLatency, once it has played something) where the browser measures
 * it, else its estimate (outputLatency).
 */
export function outputLatencyOf(context: BaseAudioContext): number {
  const c = context as Partial<Pick<AudioContext, 'baseLatency' | 'outputLatency'>>;
  const base = Number.isFinite(c.baseLatency) ? (c.baseLatency as number) : 0;
  const measured = playbackStatsOf(context)?.averageLatency;
  const out =
    measured !== undefined && Number.isFinite(measured) && measured > 0
      ? measured
      : Number.isFinite(c.outputLatency)
        ? (c.outputLatency as number)
        : 0;
  return Math.max(0, base) + Math.max(0, out);
}

/**
 * Resumes `context` (call it from a user gesture). A closed context, or one
 * the browser keeps interrupted (resume() rejects, or resolves but the state
 * stays 'interrupted'), gives a VirtioSoundError; the device keeps answering
 * the guest either way, and nothing queued is lost: audio picks up where it
 * stopped when the context runs again.
 */
export async function resumeAudio(context: AudioContext): Promise<void> {
  const state = audioStateOf(context);
  if (state === 'running') return;
  if (state === 'closed') throw new VirtioSoundError('closed', 'the AudioContext is closed');
  try {
    await context.resume();
  } catch (e) {
    throw new VirtioSoundError(
      audioStateOf(context) === 'closed' ? 'closed' : 'audio-interrupted',
      `${String(e)}; audio stays ${audioStateOf(context)}`,
    );
  }
  if (audioStateOf(context) === 'interrupted') {
    throw new VirtioSoundError(
      'audio-interrupted',
      'audio is interrupted by the system (another app or a call); it resumes when that ends',
    );
  }
}

export interface AudioOutputWatch {
  stop(): void;
}

/**
 * Calls `onState` on every state change and `onLatency` whenever the output
 * latency moves by more than 0.1 ms (checked on state changes and every
 * `pollMs`, as a Bluetooth device or a new sink changes it). Both are called
 * once at the start.
 */
export function watchAudioOutput(
  context: BaseAudioContext,
  handlers: { onState?(state: AudioState): void; onLatency?(seconds: number): void },
  pollMs = 500,
): AudioOutputWatch {
  let latency = -1;
  const checkLatency = () => {
    const now = outputLatencyOf(context);
    if (Math.abs(now - latency) > 1e-4) {
      latency = now;
      handlers.onLatency?.(now);
    }
  };
  const onChange = () => {
    handlers.onState?.(audioStateOf(context));
    checkLatency();
  };
  context.addEventListener('statechange', onChange);
  const timer = setInterval(checkLatency, pollMs);
  onChange();
  return {
    stop() {
      clearInterval(timer);
      context.removeEventListener('statechange', onChange);
    },
  };
}
