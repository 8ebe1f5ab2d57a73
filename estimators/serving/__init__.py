"""Serving a video system: the latency of one clip on a replica of 1-8 GPUs (text encoding, the denoising
loop, VAE decode, container encoding), memory per GPU with offload when needed, Ulysses, ring and
CFG-parallel splits of a replica as xDiT runs them, throughput with requests batched, queueing (exact
M/D/c), spare replicas for an availability target, and the cheapest fleet for a demand.

May import: planning, search, time, memory, counts, catalog, specs.
"""
