"""Simulated rooms: close-up recordings as a microphone across a bedroom would hear them.

A person lies on the floor or in bed (mouth 0.15 m above the floor); the
microphone stands on a bedside table or shelf (0.75 m) some metres away. Each
recording is convolved with the room's impulse response from an image-source
model (pyroomacoustics) and laid into pink room noise ``snr_db`` below the
speech's active level. Everything is seeded: the same room and seed give the
same audio.

Used by ``bench/far_field.py`` and the tests; pyroomacoustics comes with the
``bench`` extra.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from voicerelief.synthesize import pink_noise
from voicerelief.voice_gate import FRAME_SECONDS, frame_levels_dbfs

RATE = 16000
MOUTH_HEIGHT = 0.15
MICROPHONE_HEIGHT = 0.75
# Recordings were made close to the mouth; their level stands for speech heard at this distance.
RECORDED_DISTANCE = 0.3
# Frames within this much of the loudest one count as speech when measuring its level.
ACTIVE_RANGE_DB = 25.0
POSITIONS = 8
WALL_CLEARANCE = 0.4
LEAD_SECONDS = 1.5
TRAIL_SECONDS = 1.0


@dataclass(frozen=True)
class Room:
    name: str
    rt60_seconds: float
    distance: float
    snr_db: float
    size: tuple[float, float, float] = (4.0, 5.0, 2.7)


ROOMS = (
    Room("milder room, 1.5 m", rt60_seconds=0.3, distance=1.5, snr_db=20.0),
    Room("bedroom, 2 m", rt60_seconds=0.5, distance=2.0, snr_db=15.0),
    Room("bedroom, 3 m", rt60_seconds=0.5, distance=3.0, snr_db=15.0),
)


def impulse_response(room: Room, position: int) -> np.ndarray:
    """The room's response from the mouth to the microphone, at 16 kHz, for one of its seeded placements."""
    return _impulse_response(room, position % POSITIONS)


def measured_rt60(response: np.ndarray) -> float:
    """Reverberation time read off an impulse response (its decay, extrapolated to 60 dB)."""
    import pyroomacoustics

    return float(pyroomacoustics.experimental.measure_rt60(response, fs=RATE, decay_db=30))


def far_field(samples: np.ndarray, rate: int, room: Room, seed: int) -> np.ndarray:
    """A recording (any rate) as heard across the room: 16 kHz, in room noise, with room before and after it."""
    from scipy.signal import fftconvolve

    clip = samples.astype(np.float64)
    if rate != RATE:
        import soxr

        clip = soxr.resample(clip, rate, RATE)
    heard = fftconvolve(clip, impulse_response(room, seed))
    lead, trail = int(RATE * LEAD_SECONDS), int(RATE * TRAIL_SECONDS)
    noise = pink_noise(lead + len(heard) + trail, seed)
    noise_dbfs = _power_dbfs(noise)
    noise *= 10 ** ((active_level_dbfs(heard) - room.snr_db - noise_dbfs) / 20)
    noise[lead:lead + len(heard)] += heard
    return np.clip(np.round(noise), -32768, 32767).astype(np.int16)


def active_level_dbfs(samples: np.ndarray) -> float:
    """The speech level: the mean power of the 20 ms frames within 25 dB of the loudest."""
    levels = frame_levels_dbfs(samples, int(RATE * FRAME_SECONDS))
    active = levels[levels > levels.max() - ACTIVE_RANGE_DB]
    return float(10 * np.log10(np.mean(10 ** (active / 10))))


def _power_dbfs(samples: np.ndarray) -> float:
    return float(10 * np.log10(np.mean((samples / 32768.0) ** 2)))


@functools.lru_cache(maxsize=None)
def _impulse_response(room: Room, position: int) -> np.ndarray:
    # Sabine's formula overestimates the absorption an image-source room needs; aim until the measured time fits.
    aimed = room.rt60_seconds
    for _ in range(4):
        response = _simulate(room, position, aimed)
        aimed *= room.rt60_seconds / measured_rt60(response)
    return _simulate(room, position, aimed)


def _simulate(room: Room, position: int, rt60_seconds: float) -> np.ndarray:
    import pyroomacoustics

    microphone, mouth = _placement(room, position)
    absorption, max_order = pyroomacoustics.inverse_sabine(rt60_seconds, list(room.size))
    simulated = pyroomacoustics.ShoeBox(list(room.size), fs=RATE, materials=pyroomacoustics.Material(absorption),
                                        max_order=max_order)
    simulated.add_source(mouth.tolist())
    simulated.add_microphone(microphone.tolist())
    simulated.compute_rir()
    # The model's direct path falls as 1/r from 1 at one metre; the recordings stand for RECORDED_DISTANCE.
    return np.asarray(simulated.rir[0][0]) * RECORDED_DISTANCE


def _placement(room: Room, position: int) -> tuple[np.ndarray, np.ndarray]:
    """A microphone and a mouth ``room.distance`` apart across the floor, both clear of the walls."""
    rng = np.random.default_rng(position)
    width, depth, _ = room.size
    low = np.array([WALL_CLEARANCE, WALL_CLEARANCE])
    high = np.array([width - WALL_CLEARANCE, depth - WALL_CLEARANCE])
    while True:
        table = rng.uniform(low, high)
        angle = rng.uniform(0, 2 * np.pi)
        mouth = table + room.distance * np.array([np.cos(angle), np.sin(angle)])
        if np.all(mouth >= low) and np.all(mouth <= high):
            return np.array([*table, MICROPHONE_HEIGHT]), np.array([*mouth, MOUTH_HEIGHT])
