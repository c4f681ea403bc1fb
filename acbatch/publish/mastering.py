"""Mastering: the API's audio becomes the published episode, made to sound like the rest.

The downloaded MP3 is kept untouched beside the published one; the published one is built from
it locally (no API call): the show's intro and outro jingles stitched on with short crossfades,
then the whole normalised to a target integrated loudness (ITU-R BS.1770-4, measured with
pyloudnorm) with its true peak (4x oversampled, as BS.1770 annex 2 describes) held under a
ceiling by a look-ahead limiter, and encoded as MP3 at the API audio's sample rate.

Libraries: miniaudio decodes MP3 and WAV and resamples jingles to the episode's rate (one
wheel, no ffmpeg); numpy and scipy do the arithmetic (filters, oversampling); pyloudnorm
measures loudness; lameenc (also the sandbox's encoder) writes the MP3.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acbatch.project.model import AudioSettings

if TYPE_CHECKING:  # numpy is loaded only when an episode is mastered
    import numpy as np
    from numpy.typing import NDArray

    Samples = NDArray[np.float32]

CODEC_HEADROOM_DB = 0.5
"""MP3 encoding overshoots peaks a little: the limiter aims this far under the ceiling, and the
encoded file is measured again (and redone lower) if it still overshoots."""
LIMITER_LOOKAHEAD_SECONDS = 0.005
LIMITER_RELEASE_SECONDS = 0.05
OVERSAMPLING = 4
CHUNK_SECONDS = 30.0
"""Oversampling and encoding work through the audio in pieces, so memory stays a few times the
decoded episode's size."""
LAME_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
LAME_BITRATES_LOW = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
"""MPEG-2 (sample rates under 32 kHz) allows these."""
MAX_ATTEMPTS = 3
"""Encodings tried before the episode is published as the last one came out."""
DEFAULT_KBPS = 64
"""The bitrate used when the original's cannot be read."""
LEVELLING_PASSES = 4
LEVELLING_TOLERANCE_DB = 0.1


class MasteringError(Exception):
    """An audio file could not be read or the episode could not be processed."""


@dataclass(frozen=True)
class Loudness:
    target: float
    """Integrated loudness, LUFS."""
    true_peak: float
    """Ceiling, dBTP."""


@dataclass(frozen=True)
class MasteringSettings:
    intro: Path | None = None
    outro: Path | None = None
    crossfade: float = 0.0
    """Seconds each jingle overlaps the speech (acbatch.yaml's default is the schema's)."""
    loudness: Loudness | None = None
    """None: published at the API audio's own loudness."""

    @property
    def processes(self) -> bool:
        """Whether the published file differs from the API's (else it is a copy)."""
        return bool(self.intro or self.outro or self.loudness)


def load_libraries() -> None:
    """Import what mastering uses (about a second, once per process): a run does it while it
    waits for its first tasks, not when the first episode's audio arrives."""
    import lameenc  # noqa: F401
    import miniaudio  # noqa: F401
    import numpy  # noqa: F401
    import pyloudnorm  # noqa: F401
    import scipy.ndimage
    import scipy.signal  # noqa: F401

    # These modules live as long as the process: set their objects apart from the cyclic
    # garbage collector, so that neither later collections nor the interpreter's exit walk
    # them again (scipy alone adds about 0.2 s to every exit otherwise).
    gc.freeze()


def settings_for(audio: AudioSettings) -> MasteringSettings:
    """acbatch.yaml's `audio:` block as the mastering wants it."""
    loudness = None
    if audio.loudness_target is not None:
        loudness = Loudness(audio.loudness_target, audio.true_peak)
    return MasteringSettings(audio.intro, audio.outro, audio.crossfade, loudness)


@dataclass(frozen=True)
class MasteredAudio:
    path: Path
    bytes: int
    duration: float
    """Seconds, as mutagen measures the published file."""
    speech_start: float
    """Where the API's audio starts in the published file (the intro's share of the timeline)."""
    speech_seconds: float
    loudness: float | None = None
    """Integrated loudness of the published file, LUFS (None when not normalised)."""
    true_peak: float | None = None
    """dBTP of the published file, when normalised."""


def file_digest(path: Path) -> str:
    """SHA-256 of a jingle, kept per (path, size, mtime) so `plan` hashes each file once."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    cached = _DIGESTS.get(key)
    if cached is None:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        cached = _DIGESTS[key] = digest.hexdigest()
    return cached


_DIGESTS: dict[tuple[str, int, int], str] = {}


def master(original: Path, destination: Path, settings: MasteringSettings) -> MasteredAudio:
    """Build the published episode at `destination` from the API's MP3 `original`."""
    speech_seconds = _mp3_seconds(original)
    if not settings.processes:
        _replace_atomically(destination, partial(_copy, original))
        return MasteredAudio(
            destination, destination.stat().st_size, speech_seconds, 0.0, speech_seconds
        )
    speech, rate, channels = decode(original)
    speech = _without_encoder_delay(speech)
    fade = max(0.0, settings.crossfade)
    intro = jingle(settings.intro, rate, channels) if settings.intro else None
    outro = jingle(settings.outro, rate, channels) if settings.outro else None
    stitched, speech_offset = stitch(intro, speech, outro, rate, fade)
    del speech, intro, outro  # memory: only the stitched episode is worked on from here
    bitrate = _bitrate(original, rate)
    measured: float | None = None
    peak: float | None = None
    if settings.loudness is None:
        _replace_atomically(destination, partial(encode, stitched, rate, channels, bitrate))
    else:
        wanted = settings.loudness
        # The encoder's low-pass and quantisation move loudness and peaks a little: the file
        # written is measured again and, when it misses, made again with the error taken off.
        aim, ceiling = wanted.target, wanted.true_peak - CODEC_HEADROOM_DB
        for _attempt in range(MAX_ATTEMPTS):
            levelled = normalise(stitched, rate, aim, ceiling)
            _replace_atomically(destination, partial(encode, levelled, rate, channels, bitrate))
            del levelled
            published = decode(destination)[0]
            measured = integrated_loudness(published, rate)
            peak = true_peak_db(published, rate)
            del published
            loud_enough = (
                not math.isfinite(measured)
                or abs(measured - wanted.target) <= LEVELLING_TOLERANCE_DB * 2
            )
            if loud_enough and peak <= wanted.true_peak:
                break
            if math.isfinite(measured):
                aim += wanted.target - measured
            if peak > wanted.true_peak:
                ceiling -= peak - wanted.true_peak + 0.1
    del stitched
    return MasteredAudio(
        destination,
        destination.stat().st_size,
        _mp3_seconds(destination),
        round(speech_offset / rate, 3),
        speech_seconds,
        _figure(measured),
        _figure(peak),
    )


def decode(path: Path, rate: int = 0, channels: int = 0) -> tuple[Samples, int, int]:
    """(frames x channels float32, rate, channels); 0 keeps the file's own rate or channels."""
    import miniaudio
    import numpy as np

    try:
        if not rate or not channels:
            info = miniaudio.get_file_info(str(path))
            rate, channels = rate or info.sample_rate, channels or info.nchannels
        sound = miniaudio.decode_file(
            str(path),
            output_format=miniaudio.SampleFormat.FLOAT32,
            nchannels=channels,
            sample_rate=rate,
        )
    except (miniaudio.MiniaudioError, OSError, ValueError) as exc:
        raise MasteringError(f"{path}: not a readable MP3 or WAV file ({exc})") from None
    samples = np.frombuffer(sound.samples, dtype=np.float32).reshape(-1, sound.nchannels)
    if not len(samples):
        raise MasteringError(f"{path}: holds no audio")
    return samples, sound.sample_rate, sound.nchannels


SILENCE = 1e-4
"""-80 dBFS: quieter than this at a jingle's ends is silence (an MP3's encoder delay and
padding, or a gap left when it was exported)."""


def jingle(path: Path, rate: int, channels: int) -> Samples:
    """A jingle at the episode's rate and channels, without silence at either end, so that its
    length is what is heard and the crossfade meets sound."""
    import numpy as np

    samples = decode(path, rate, channels)[0]
    sounding = np.flatnonzero(np.abs(samples).max(axis=1) > SILENCE)
    if not len(sounding):
        raise MasteringError(f"{path}: holds only silence")
    return samples[sounding[0] : sounding[-1] + 1]


def stitch(
    intro: Samples | None, speech: Samples, outro: Samples | None, rate: int, crossfade: float
) -> tuple[Samples, int]:
    """Intro, speech and outro overlapped by equal-power crossfades; returns the stitched audio
    and the frame where the speech starts in it."""
    import numpy as np

    channels = speech.shape[1]
    intro_frames = len(intro) if intro is not None else 0
    outro_frames = len(outro) if outro is not None else 0
    wanted = round(crossfade * rate)
    fade_in = min(wanted, intro_frames, len(speech) // 2) if intro is not None else 0
    fade_out = min(wanted, outro_frames, len(speech) // 2) if outro is not None else 0
    start = intro_frames - fade_in
    total = start + len(speech) + outro_frames - fade_out
    out = np.zeros((total, channels), dtype=np.float32)
    out[start : start + len(speech)] = speech
    if intro is not None:
        out[:start] = intro[:start]
        if fade_in:
            rise, fall = _equal_power(fade_in)
            out[start : start + fade_in] *= rise
            out[start : start + fade_in] += intro[start:] * fall
    if outro is not None:
        end = start + len(speech)
        if fade_out:
            rise, fall = _equal_power(fade_out)
            out[end - fade_out : end] *= fall
            out[end - fade_out : end] += outro[:fade_out] * rise
        out[end:] = outro[fade_out:]
    return out, start


def _equal_power(frames: int) -> tuple[Samples, Samples]:
    import numpy as np

    phase = (np.arange(frames, dtype=np.float32) + 0.5) / frames * (np.pi / 2)
    return np.sin(phase)[:, None], np.cos(phase)[:, None]


def integrated_loudness(samples: Samples, rate: int) -> float:
    """BS.1770-4 integrated loudness (LUFS); -inf for silence."""
    import pyloudnorm

    meter = pyloudnorm.Meter(rate)
    data = samples[:, 0] if samples.shape[1] == 1 else samples
    with _quiet_numpy():
        return float(meter.integrated_loudness(data))


def true_peak_envelope(samples: Samples, rate: int) -> Samples:
    """For each frame, the highest absolute value of the 4x oversampled signal around it, over
    all channels (BS.1770-4 annex 2)."""
    import numpy as np
    from scipy.signal import resample_poly

    frames = len(samples)
    envelope = np.empty(frames, dtype=np.float32)
    chunk = max(1, int(CHUNK_SECONDS * rate))
    pad = 64
    for begin in range(0, frames, chunk):
        end = min(frames, begin + chunk)
        low, high = max(0, begin - pad), min(frames, end + pad)
        upsampled = resample_poly(samples[low:high], OVERSAMPLING, 1, axis=0)
        peaks = np.abs(upsampled).max(axis=1).reshape(-1, OVERSAMPLING).max(axis=1)
        envelope[begin:end] = peaks[begin - low : begin - low + (end - begin)]
    return envelope


def true_peak_db(samples: Samples, rate: int) -> float:
    peak = float(true_peak_envelope(samples, rate).max())
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def normalise(samples: Samples, rate: int, target: float, ceiling_db: float) -> Samples:
    """`samples` at `target` LUFS with true peaks limited to `ceiling_db` dBTP.

    Limiting lowers the loudness a little, so the gain is corrected and the limiter run again
    until the result is within LEVELLING_TOLERANCE_DB of the target (at most LEVELLING_PASSES).
    """
    measured = integrated_loudness(samples, rate)
    if not math.isfinite(measured):
        return samples  # silence: nothing to level
    gain_db = target - measured
    levelled = samples
    for _pass in range(LEVELLING_PASSES):
        del levelled  # memory: the last pass's result goes before the next is made
        levelled = _limit_in_place(samples * _linear(gain_db), rate, ceiling_db)
        after = integrated_loudness(levelled, rate)
        if not math.isfinite(after) or abs(after - target) <= LEVELLING_TOLERANCE_DB:
            break
        gain_db += target - after
    return levelled


def limit(samples: Samples, rate: int, ceiling_db: float) -> Samples:
    """`samples` with the true peak held under `ceiling_db` (a new array)."""
    return _limit_in_place(samples.copy(), rate, ceiling_db)


def _limit_in_place(samples: Samples, rate: int, ceiling_db: float) -> Samples:
    """Hold the true peak under `ceiling_db` with a look-ahead gain curve, in place.

    The gain each frame needs is spread by a sliding minimum as wide as the look-ahead, then
    smoothed by a moving average of the same width: every smoothed value averages minima over
    windows that all contain the frame, so it never exceeds what the frame needs. A slower
    release (a longer minimum than average) keeps the gain from pumping between syllables.
    """
    import numpy as np
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    ceiling = _linear(ceiling_db)
    envelope = true_peak_envelope(samples, rate)
    if float(envelope.max()) <= ceiling:
        return samples
    needed = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-9)).astype(np.float32)
    del envelope
    attack = max(1, int(LIMITER_LOOKAHEAD_SECONDS * rate))
    release = max(attack, int(LIMITER_RELEASE_SECONDS * rate))
    # Backward-looking minimum over `release` frames plus `attack` ahead: the gain recovers
    # over the release after a peak and falls in over the attack before one.
    held = minimum_filter1d(
        needed, size=attack + release, origin=(attack + release) // 2 - attack, mode="nearest"
    )
    gain = uniform_filter1d(held, size=attack, mode="nearest")
    del held
    # Rounding in the average must not let a peak through.
    np.minimum(gain, needed, out=gain)
    del needed
    samples *= gain[:, None]
    return samples


def encode(samples: Samples, rate: int, channels: int, bitrate: int, out: Any) -> None:
    """Write `samples` to the open binary file `out` as a constant-bitrate MP3."""
    import lameenc
    import numpy as np

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate)
    encoder.set_in_sample_rate(rate)
    # Else LAME picks a lower output rate for a low bitrate: the episode keeps the API's rate.
    encoder.set_out_sample_rate(rate)
    encoder.set_channels(channels)
    encoder.set_quality(5)
    chunk = max(1, int(CHUNK_SECONDS * rate))
    for begin in range(0, len(samples), chunk):
        piece = np.clip(samples[begin : begin + chunk], -1.0, 32767 / 32768) * 32768
        out.write(bytes(encoder.encode(piece.astype("<i2").tobytes())))
    out.write(bytes(encoder.flush()))


def _bitrate(original: Path, rate: int) -> int:
    """The original's bitrate (what the API chose), as the nearest one LAME accepts."""
    from mutagen.mp3 import MP3

    try:
        info = MP3(original).info  # type: ignore[no-untyped-call]
        kbps = int(info.bitrate // 1000) if info is not None else DEFAULT_KBPS
    except Exception:  # any unreadable header: a sensible default
        kbps = DEFAULT_KBPS
    allowed = LAME_BITRATES if rate >= 32000 else LAME_BITRATES_LOW
    return min(allowed, key=lambda candidate: (abs(candidate - kbps), -candidate))


def _without_encoder_delay(samples: Samples) -> Samples:
    """The decoded audio less the lead-in our encoder is about to add again, so that the speech
    sits in the published file exactly where it sat in the API's file (plus the intro)."""
    frames = min(len(samples) // 2, LAME_ENCODER_DELAY_FRAMES)
    return samples[frames:]


LAME_ENCODER_DELAY_FRAMES = 1105
"""Frames of silence LAME puts before the audio (miniaudio's decoder keeps them; the MPEG
decoder delay it removes itself), the same at every sample rate."""


def _mp3_seconds(path: Path) -> float:
    from acbatch.publish import id3

    return id3.measure_duration(path)


def _figure(value: float | None) -> float | None:
    """A measurement fit for a JSON state file: silence measures -inf, recorded as unknown."""
    return round(value, 2) if value is not None and math.isfinite(value) else None


def _linear(db: float) -> float:
    return float(10 ** (db / 20))


def _copy(source: Path, out: Any) -> None:
    with source.open("rb") as handle:
        shutil.copyfileobj(handle, out, 1 << 20)


def _replace_atomically(destination: Path, write: Any) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".part", dir=destination.parent
    )
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _quiet_numpy() -> Iterator[None]:
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        yield
