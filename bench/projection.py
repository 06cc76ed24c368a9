"""What an x86-64 instruction count becomes on a Raspberry Pi: the factors, stated so a projection can be checked
and redone, and the one formula that applies them."""

from __future__ import annotations

# AArch64 needs about as many instructions as x86-64 for scalar code, but NEON is 128 bits wide
# against AVX2's 256, and the network's matrix products are most of the decoding work.
ARM_PER_X86_INSTRUCTIONS = (1.2, 1.5, 2.0)
PI_CPUS = (
    # name, core, clock in GHz, sustained instructions per cycle on this kind of code (low, middle, high)
    ("Raspberry Pi 4", "Cortex-A72", 1.5, (0.8, 1.1, 1.4)),
    ("Raspberry Pi 3B+", "Cortex-A53", 1.4, (0.5, 0.65, 0.8)),
)
FORMULA = "instructions per second x (AArch64 per x86-64 instruction) / (clock x instructions per cycle)"


def projected_share(per_second: float, ghz: float, ipc: tuple[float, float, float],
                    arm_per_x86: tuple[float, float, float] = ARM_PER_X86_INSTRUCTIONS) -> str:
    """The share of one core that ``per_second`` x86-64 instructions take on a board: the middle estimate, then
    the range from the fewest instructions at the best IPC to the most at the worst."""
    low_ratio, mid_ratio, high_ratio = arm_per_x86
    low_ipc, mid_ipc, high_ipc = ipc

    def percent(ratio: float, cycles: float) -> float:
        return per_second * ratio / (ghz * 1e9 * cycles) * 100

    return (f"{percent(mid_ratio, mid_ipc):.1f}% ({percent(low_ratio, high_ipc):.1f} to "
            f"{percent(high_ratio, low_ipc):.1f})")
