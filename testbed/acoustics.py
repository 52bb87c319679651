"""Rooms a request is heard in: reverb, a far talker, a phone's band, and three household noises
(speech babble, a fan, a kitchen) mixed at a chosen signal-to-noise ratio.

Pure functions on 16 kHz mono int16 audio, deterministic for a given seed, so a rendered clip is the
same on every run (scripts/bench/hearing.py caches them by a hash of what made them). Signal-to-noise
ratios are measured over the frames where the clean speech is active (`snr_db`), the way speech
enhancement papers quote them, so the silence around a request does not flatter a figure.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from assistant.audio import SAMPLE_RATE
from assistant.audio.wav import resample

FRAME = 320
"""20 ms: the frame over which speech activity and power are measured."""
ACTIVE_BELOW_PEAK_DB = 35.0
"""A frame counts as speech when its power is within this many dB of the loudest frame's."""


# --- measuring ----------------------------------------------------------------------------------


def _frames(x: np.ndarray) -> np.ndarray:
    n = len(x) // FRAME
    return x[: n * FRAME].astype(np.float64).reshape(n, FRAME)


def active(pcm: np.ndarray) -> np.ndarray:
    """A boolean per 20 ms frame: is the speech active there."""
    power = np.mean(_frames(pcm) ** 2, axis=1)
    if not len(power) or power.max() <= 0:
        return np.zeros(len(power), bool)
    return power >= power.max() * 10 ** (-ACTIVE_BELOW_PEAK_DB / 10)


def active_power(x: np.ndarray, mask: np.ndarray) -> float:
    frames = _frames(x)[: len(mask)]
    return float(np.mean(frames[mask[: len(frames)]] ** 2)) if mask.any() else 0.0


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """The ratio of the clean speech's power to the added noise's, both over the active frames."""
    n = min(len(clean), len(noisy))
    noise = noisy[:n].astype(np.float64) - clean[:n].astype(np.float64)
    mask = active(clean[:n])
    return 10 * np.log10(active_power(clean[:n], mask) / max(active_power(noise, mask), 1e-9))


def level_db(pcm: np.ndarray) -> float:
    """RMS level in dB relative to full scale."""
    rms = np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) if len(pcm) else 0.0
    return 20 * np.log10(max(rms, 1e-9) / 32768.0)


def band_energy_share(pcm: np.ndarray, above_hz: float) -> float:
    """The share of the signal's energy above `above_hz`."""
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(pcm), 1 / SAMPLE_RATE)
    return float(spectrum[freqs > above_hz].sum() / max(spectrum.sum(), 1e-9))


# --- building blocks ---------------------------------------------------------------------------


def as_int16(x: np.ndarray) -> np.ndarray:
    """Float samples on the int16 scale to int16, scaled down as a whole if they would clip (a level
    change keeps every ratio the tests measure)."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > 32000:
        x = x * (32000 / peak)
    return np.round(x).astype(np.int16)


def _shaped(n: int, rng: np.random.Generator, gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Gaussian noise of `n` samples whose spectrum is shaped by gain(frequencies), unit RMS."""
    spectrum = np.fft.rfft(rng.normal(size=n)) * gain(np.fft.rfftfreq(n, 1 / SAMPLE_RATE))
    out = np.fft.irfft(spectrum, n)
    return out / max(float(np.sqrt(np.mean(out**2))), 1e-12)


def _convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    size = len(x) + len(h) - 1
    fft = 1 << (size - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(x, fft) * np.fft.rfft(h, fft), fft)[:size]


def impulse_response(rt60_s: float, seed: int, direct: float = 1.0) -> np.ndarray:
    """A synthetic room: the direct sound, then exponentially decaying noise (60 dB down after
    rt60_s) starting with the first reflections 5 ms later. `direct` weighs the direct sound: less is
    further away."""
    rng = np.random.default_rng(seed)
    n = int(rt60_s * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.normal(size=n) * np.exp(-6.91 * t / rt60_s)
    tail[: int(0.005 * SAMPLE_RATE)] = 0.0
    tail *= 0.3 / np.sqrt(np.sum(tail**2))  # the reverberant energy, relative to a direct sound of 1
    tail[0] = direct
    return tail


# --- conditions --------------------------------------------------------------------------------


def reverb(pcm: np.ndarray, rt60_s: float = 0.6, seed: int = 0, direct: float = 1.0) -> np.ndarray:
    """The clip in a reverberant room, its tail ringing on after it; the same RMS level as the dry
    clip over the dry clip's length."""
    wet = _convolve(pcm.astype(np.float64), impulse_response(rt60_s, seed, direct))
    dry_rms = np.sqrt(np.mean(pcm.astype(np.float64) ** 2))
    wet *= dry_rms / max(float(np.sqrt(np.mean(wet[: len(pcm)] ** 2))), 1e-9)
    return as_int16(wet)


def far(pcm: np.ndarray, seed: int = 0, gain_db: float = -20.0) -> np.ndarray:
    """A talker across the room: a little more reverb (the direct sound weaker), 20 dB quieter. The
    level drop is measured over the dry clip's length, like `reverb`."""
    roomy = reverb(pcm, rt60_s=0.4, seed=seed, direct=0.5).astype(np.float64)
    return np.round(roomy * 10 ** (gain_db / 20)).astype(np.int16)


def _band_mask(freqs: np.ndarray, low: float, high: float, edge: float = 100.0) -> np.ndarray:
    """1 inside [low, high], raised-cosine edges `edge` Hz wide inside the band, 0 outside."""
    mask = ((freqs >= low) & (freqs <= high)).astype(np.float64)
    rise = (freqs >= low) & (freqs < low + edge)
    mask[rise] = 0.5 - 0.5 * np.cos(np.pi * (freqs[rise] - low) / edge)
    fall = (freqs > high - edge) & (freqs <= high)
    mask[fall] = 0.5 - 0.5 * np.cos(np.pi * (high - freqs[fall]) / edge)
    return mask


def phone_band(pcm: np.ndarray, low: float = 300.0, high: float = 3400.0) -> np.ndarray:
    """A phone's telephone band: 300-3400 Hz, through 8 kHz sampling and back to 16 kHz."""

    def band(x: np.ndarray) -> np.ndarray:
        freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
        return np.fft.irfft(np.fft.rfft(x.astype(np.float64)) * _band_mask(freqs, low, high), len(x))

    narrow = resample(as_int16(band(pcm)), SAMPLE_RATE, 8000)
    return as_int16(band(resample(narrow, 8000, SAMPLE_RATE)[: len(pcm)]))


def fan_noise(n: int, seed: int = 0) -> np.ndarray:
    """A fan: brown-ish rumble low-passed around 400 Hz, a motor hum at 100 Hz and its harmonics, and
    the blades' slow beat on it. Unit RMS."""
    rng = np.random.default_rng(seed)
    rumble = _shaped(n, rng, lambda f: 1 / (1 + (np.maximum(f, 20.0) / 120.0)) / (1 + (f / 400.0) ** 4))
    t = np.arange(n) / SAMPLE_RATE
    phase = rng.uniform(0, 2 * np.pi, 3)
    hum = sum(
        a * np.sin(2 * np.pi * f0 * t + p) for a, f0, p in zip((0.5, 0.25, 0.12), (100, 200, 300), phase, strict=False)
    )
    beat = 1 + 0.25 * np.sin(2 * np.pi * rng.uniform(8, 14) * t)
    out = (rumble + hum) * beat
    return out / np.sqrt(np.mean(out**2))


def kitchen_noise(n: int, seed: int = 0) -> np.ndarray:
    """A kitchen: water running from a tap (band-passed noise that swells and ebbs) and the clatter of
    dishes and cutlery (short bright rings, about two a second). Unit RMS."""
    rng = np.random.default_rng(seed)
    water = _shaped(n, rng, lambda f: _band_mask(f, 400.0, 6000.0, edge=300.0) / (1 + f / 3000.0))
    swell = 1 + 0.3 * np.sin(2 * np.pi * 0.3 * np.arange(n) / SAMPLE_RATE + rng.uniform(0, 6.3))
    out = water * swell * 0.6
    for start in np.sort(rng.integers(0, n, max(1, int(2 * n / SAMPLE_RATE)))):
        length = int(rng.uniform(0.05, 0.25) * SAMPLE_RATE)
        t = np.arange(min(length, n - start)) / SAMPLE_RATE
        ring = sum(np.sin(2 * np.pi * rng.uniform(1500, 7000) * t + rng.uniform(0, 6.3)) for _ in range(3))
        click = rng.normal(size=len(t)) * np.exp(-t / 0.004)
        out[start : start + len(t)] += rng.uniform(1.5, 4.0) * (ring * np.exp(-t / rng.uniform(0.02, 0.08)) + click)
    return out / np.sqrt(np.mean(out**2))


def babble_noise(n: int, talkers: list[np.ndarray], seed: int = 0, voices: int = 5) -> np.ndarray:
    """Several people talking at once: `voices` streams, each made of `talkers` clips (int16
    sentences) picked and offset at random, summed. Unit RMS."""
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    for _ in range(voices):
        stream: list[np.ndarray] = [np.zeros(int(rng.uniform(0, 1.0) * SAMPLE_RATE))]
        while sum(len(s) for s in stream) < n:
            clip = talkers[int(rng.integers(len(talkers)))].astype(np.float64)
            stream += [
                clip / max(float(np.sqrt(np.mean(clip**2))), 1e-9),
                np.zeros(int(rng.uniform(0.05, 0.3) * SAMPLE_RATE)),
            ]
        out += np.concatenate(stream)[:n] * rng.uniform(0.6, 1.0)
    return out / max(float(np.sqrt(np.mean(out**2))), 1e-12)


def mix(pcm: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """`pcm` with `noise` (float, same length) scaled to `snr` dB over the speech's active frames."""
    mask = active(pcm)
    speech = active_power(pcm, mask)
    scale = np.sqrt(speech / 10 ** (snr / 10) / max(active_power(noise, mask), 1e-12))
    return as_int16(pcm.astype(np.float64) + noise[: len(pcm)] * scale)
