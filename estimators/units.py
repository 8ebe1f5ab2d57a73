"""SI units and the sizes of number formats, shared by every room (conversion only for display)."""

BF16_BYTES = 2
FP32_BYTES = 4
GIB = 2**30
SECONDS_PER_HOUR = 3_600
SECONDS_PER_DAY = 86_400
WATTS_PER_KILOWATT = 1_000
